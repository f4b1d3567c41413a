// sqlite_store: notifiers and the outbox of their deliveries.
#include <sqlite3.h>

#include "respaldo/store/sqlite/sqlite_store.hpp"
#include "rows.hpp"
#include "sqlite_call.hpp"

namespace respaldo {
namespace {

constexpr const char* notifier_columns =
    "name, kind, url_sealed, secret_sealed, url_host, events, apps, enabled, disabled_reason, "
    "created_at, updated_at";
constexpr const char* delivery_columns =
    "seq, id, notifier, event, app, document, state, attempts, created_at, next_attempt_at, "
    "last_attempt_at, last_status, last_error";

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}
std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string events_text(const std::vector<event_kind>& events) {
  std::vector<std::string> names;
  for (auto e : events) names.emplace_back(to_string(e));
  return join(names);
}

void bind_notifier(SQLite::Statement& st, const notifier_record& n) {
  st.bind(":name", n.name);
  st.bind(":kind", std::string(to_string(n.kind)));
  st.bind(":url", n.sealed_url);
  st.bind(":secret", n.sealed_secret);
  st.bind(":host", n.url_host);
  st.bind(":events", events_text(n.events));
  st.bind(":apps", join(n.apps));
  st.bind(":enabled", n.enabled ? 1 : 0);
  st.bind(":reason", n.disabled_reason);
  st.bind(":created", static_cast<int64_t>(n.created_at.time_since_epoch().count()));
  st.bind(":updated", static_cast<int64_t>(n.updated_at.time_since_epoch().count()));
}

notifier_record read_notifier(SQLite::Statement& q) {
  notifier_record n;
  n.name = q.getColumn(0).getString();
  n.kind = parse_notifier_kind(q.getColumn(1).getString()).value_or(notifier_kind::webhook);
  n.sealed_url = q.getColumn(2).getString();
  n.sealed_secret = q.getColumn(3).getString();
  n.url_host = q.getColumn(4).getString();
  for (const auto& e : split(q.getColumn(5).getString()))
    if (auto k = parse_event_kind(e)) n.events.push_back(*k);
  n.apps = split(q.getColumn(6).getString());
  n.enabled = q.getColumn(7).getInt() != 0;
  n.disabled_reason = q.getColumn(8).getString();
  n.created_at = sys_seconds{std::chrono::seconds{q.getColumn(9).getInt64()}};
  n.updated_at = sys_seconds{std::chrono::seconds{q.getColumn(10).getInt64()}};
  return n;
}

std::int64_t ms(sys_millis t) {
  return t.time_since_epoch().count();
}
sys_millis to_millis(std::int64_t v) {
  return sys_millis{std::chrono::milliseconds{v}};
}

void bind_delivery_progress(SQLite::Statement& st, const delivery_record& d) {
  st.bind(":id", d.id);
  st.bind(":state", std::string(to_string(d.state)));
  st.bind(":attempts", d.attempts);
  st.bind(":next", static_cast<int64_t>(ms(d.next_attempt_at)));
  if (d.last_attempt_at)
    st.bind(":last", static_cast<int64_t>(ms(*d.last_attempt_at)));
  else
    st.bind(":last");
  st.bind(":status", d.last_status);
  st.bind(":error", d.last_error);
}

delivery_record read_delivery(SQLite::Statement& q) {
  delivery_record d;
  d.seq = q.getColumn(0).getInt64();
  d.id = q.getColumn(1).getString();
  d.notifier = q.getColumn(2).getString();
  d.event = parse_event_kind(q.getColumn(3).getString()).value_or(event_kind::backup_failed);
  d.app = q.getColumn(4).getString();
  d.document = q.getColumn(5).getString();
  d.state = parse_delivery_state(q.getColumn(6).getString()).value_or(delivery_state::pending);
  d.attempts = q.getColumn(7).getInt();
  d.created_at = to_millis(q.getColumn(8).getInt64());
  d.next_attempt_at = to_millis(q.getColumn(9).getInt64());
  if (!q.getColumn(10).isNull()) d.last_attempt_at = to_millis(q.getColumn(10).getInt64());
  d.last_status = q.getColumn(11).getInt();
  d.last_error = q.getColumn(12).getString();
  return d;
}

std::vector<delivery_record> read_deliveries(SQLite::Statement& q) {
  std::vector<delivery_record> out;
  while (q.executeStep()) out.push_back(read_delivery(q));
  return out;
}

}  // namespace

outcome<void> sqlite_store::insert_notifier(const notifier_record& n) {
  call t(*this);
  try {
    SQLite::Statement st(*db_, std::string("INSERT INTO notifiers (") + notifier_columns +
                                   ") VALUES (:name, :kind, :url, :secret, :host, :events, "
                                   ":apps, :enabled, :reason, :created, :updated)");
    bind_notifier(st, n);
    st.exec();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY)
      return failure{errc::conflict, "a notifier named \"" + n.name + "\" exists"};
    return fail(e, "insert_notifier");
  }
}

outcome<std::optional<notifier_record>> sqlite_store::get_notifier(const std::string& name) {
  call t(*this);
  try {
    SQLite::Statement q(
        *db_, std::string("SELECT ") + notifier_columns + " FROM notifiers WHERE name = ?");
    q.bind(1, name);
    if (!q.executeStep()) return std::optional<notifier_record>{};
    return std::optional<notifier_record>{read_notifier(q)};
  } catch (const std::exception& e) {
    return fail(e, "get_notifier");
  }
}

outcome<std::vector<notifier_record>> sqlite_store::list_notifiers() {
  call t(*this);
  try {
    cached q(*this, std::string("SELECT ") + notifier_columns + " FROM notifiers ORDER BY name");
    std::vector<notifier_record> out;
    while (q->executeStep()) out.push_back(read_notifier(*q));
    return out;
  } catch (const std::exception& e) {
    return fail(e, "list_notifiers");
  }
}

outcome<void> sqlite_store::update_notifier(const notifier_record& n, bool clear_secret) {
  call t(*this);
  try {
    SQLite::Statement st(
        *db_,
        std::string("UPDATE notifiers SET kind = :kind, url_sealed = COALESCE(NULLIF(:url, ''), "
                    "url_sealed), secret_sealed = ") +
            (clear_secret ? "''" : "COALESCE(NULLIF(:secret, ''), secret_sealed)") +
            ", url_host = :host, events = :events, apps = :apps, enabled = :enabled, "
            "disabled_reason = :reason, created_at = :created, updated_at = :updated "
            "WHERE name = :name");
    const notifier_record& bound = n;
    st.bind(":name", bound.name);
    st.bind(":kind", std::string(to_string(bound.kind)));
    st.bind(":url", bound.sealed_url);
    if (!clear_secret) st.bind(":secret", bound.sealed_secret);
    st.bind(":host", bound.url_host);
    st.bind(":events", events_text(bound.events));
    st.bind(":apps", join(bound.apps));
    st.bind(":enabled", bound.enabled ? 1 : 0);
    st.bind(":reason", bound.disabled_reason);
    st.bind(":created", static_cast<int64_t>(bound.created_at.time_since_epoch().count()));
    st.bind(":updated", static_cast<int64_t>(bound.updated_at.time_since_epoch().count()));
    if (st.exec() != 1) return failure{errc::not_found, "no notifier named \"" + n.name + "\""};
    return {};
  } catch (const std::exception& e) {
    return fail(e, "update_notifier");
  }
}

outcome<void> sqlite_store::delete_notifier(const std::string& name) {
  call t(*this);
  try {
    SQLite::Statement st(*db_, "DELETE FROM notifiers WHERE name = ?");
    st.bind(1, name);
    if (st.exec() != 1) return failure{errc::not_found, "no notifier named \"" + name + "\""};
    return {};
  } catch (const std::exception& e) {
    return fail(e, "delete_notifier");
  }
}

outcome<void> sqlite_store::insert_delivery(delivery_record& d) {
  call t(*this);
  try {
    SQLite::Statement st(*db_,
                         "INSERT INTO deliveries (id, notifier, event, app, document, state, "
                         "attempts, created_at, next_attempt_at, last_attempt_at, last_status, "
                         "last_error) VALUES (:id, :notifier, :event, :app, :document, :state, "
                         ":attempts, :created, :next, :last, :status, :error)");
    bind_delivery_progress(st, d);
    st.bind(":notifier", d.notifier);
    st.bind(":event", std::string(to_string(d.event)));
    st.bind(":app", d.app);
    st.bind(":document", d.document);
    st.bind(":created", static_cast<int64_t>(ms(d.created_at)));
    st.exec();
    d.seq = db_->getLastInsertRowid();
    return {};
  } catch (const SQLite::Exception& e) {
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_UNIQUE)
      return failure{errc::conflict, "a delivery with id " + d.id + " exists"};
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_FOREIGNKEY)
      return failure{errc::not_found, "no notifier named \"" + d.notifier + "\""};
    return fail(e, "insert_delivery");
  }
}

outcome<std::vector<delivery_record>> sqlite_store::due_deliveries(sys_millis now,
                                                                   std::size_t limit) {
  call t(*this);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + delivery_columns +
                                  " FROM deliveries WHERE state = 'pending' AND next_attempt_at "
                                  "<= ? ORDER BY next_attempt_at, seq LIMIT ?");
    q.bind(1, static_cast<int64_t>(ms(now)));
    q.bind(2, static_cast<int64_t>(limit));
    return read_deliveries(q);
  } catch (const std::exception& e) {
    return fail(e, "due_deliveries");
  }
}

outcome<std::optional<sys_millis>> sqlite_store::next_delivery_at() {
  call t(*this);
  try {
    SQLite::Statement q(*db_,
                        "SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'");
    q.executeStep();
    if (q.getColumn(0).isNull()) return std::optional<sys_millis>{};
    return std::optional<sys_millis>{to_millis(q.getColumn(0).getInt64())};
  } catch (const std::exception& e) {
    return fail(e, "next_delivery_at");
  }
}

outcome<void> sqlite_store::update_delivery(const delivery_record& d) {
  call t(*this);
  try {
    SQLite::Statement st(*db_,
                         "UPDATE deliveries SET state = :state, attempts = :attempts, "
                         "next_attempt_at = :next, last_attempt_at = :last, last_status = "
                         ":status, last_error = :error WHERE id = :id");
    bind_delivery_progress(st, d);
    if (st.exec() != 1) return failure{errc::not_found, "no delivery with id " + d.id};
    return {};
  } catch (const std::exception& e) {
    return fail(e, "update_delivery");
  }
}

outcome<std::vector<delivery_record>> sqlite_store::list_deliveries(const std::string& notifier,
                                                                    std::size_t limit) {
  call t(*this);
  try {
    cached q(*this, std::string("SELECT ") + delivery_columns +
                        " FROM deliveries WHERE notifier = ? ORDER BY seq DESC LIMIT ?");
    q->bind(1, notifier);
    q->bind(2, static_cast<int64_t>(limit));
    return read_deliveries(*q);
  } catch (const std::exception& e) {
    return fail(e, "list_deliveries");
  }
}

outcome<std::size_t> sqlite_store::count_pending_deliveries() {
  call t(*this);
  try {
    return static_cast<std::size_t>(
        db_->execAndGet("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'").getInt64());
  } catch (const std::exception& e) {
    return fail(e, "count_pending_deliveries");
  }
}

outcome<std::size_t> sqlite_store::drop_oldest_pending(std::size_t keep) {
  call t(*this);
  try {
    SQLite::Statement st(*db_,
                         "UPDATE deliveries SET state = 'dropped', last_error = 'dropped: too "
                         "many pending deliveries' WHERE seq IN (SELECT seq FROM deliveries "
                         "WHERE state = 'pending' ORDER BY seq DESC LIMIT -1 OFFSET ?)");
    st.bind(1, static_cast<int64_t>(keep));
    return static_cast<std::size_t>(st.exec());
  } catch (const std::exception& e) {
    return fail(e, "drop_oldest_pending");
  }
}

outcome<void> sqlite_store::prune_deliveries(const std::string& notifier, std::size_t keep) {
  call t(*this);
  try {
    SQLite::Statement st(*db_,
                         "DELETE FROM deliveries WHERE seq IN (SELECT seq FROM deliveries WHERE "
                         "notifier = ? AND state != 'pending' ORDER BY seq DESC LIMIT -1 OFFSET "
                         "?)");
    st.bind(1, notifier);
    st.bind(2, static_cast<int64_t>(keep));
    st.exec();
    return {};
  } catch (const std::exception& e) {
    return fail(e, "prune_deliveries");
  }
}

}  // namespace respaldo
