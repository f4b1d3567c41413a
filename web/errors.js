// Error codes explained with the words of docs/errors.md (compiled into /ui/errors.json).
let catalog = null;

export async function loadErrors() {
  if (catalog) return catalog;
  try {
    const res = await fetch('/ui/errors.json');
    catalog = res.ok ? await res.json() : { api: {}, job: {} };
  } catch {
    catalog = { api: {}, job: {} };
  }
  return catalog;
}

// {when, hint} of a job error code, or of an API problem code; null when unknown.
export function explain(code, kind = 'job') {
  if (!catalog || !code) return null;
  return catalog[kind][code] || catalog[kind === 'job' ? 'api' : 'job'][code] || null;
}
