#include "respaldo/domain/job.hpp"

#include "respaldo/domain/enum_names.hpp"

namespace respaldo {
namespace {

using detail::enum_names;

constexpr enum_names<job_state, 5> state_names{{
    {job_state::queued, "queued"},
    {job_state::running, "running"},
    {job_state::succeeded, "succeeded"},
    {job_state::failed, "failed"},
    {job_state::cancelled, "cancelled"},
}};

constexpr enum_names<job_kind, 2> kind_names{{
    {job_kind::backup, "backup"},
    {job_kind::verify, "verify"},
}};

constexpr enum_names<job_trigger, 2> trigger_names{{
    {job_trigger::manual, "manual"},
    {job_trigger::schedule, "schedule"},
}};

constexpr enum_names<job_phase, 7> phase_names{{
    {job_phase::none, ""},
    {job_phase::probing, "probing"},
    {job_phase::exporting, "exporting"},
    {job_phase::uploading, "uploading"},
    {job_phase::finalizing, "finalizing"},
    {job_phase::pruning, "pruning"},
    {job_phase::verifying, "verifying"},
}};

}  // namespace

std::string_view to_string(job_state s) {
  return detail::name_of(state_names, s);
}
std::optional<job_state> parse_job_state(std::string_view s) {
  return detail::value_of(state_names, s);
}

std::string_view to_string(job_kind k) {
  return detail::name_of(kind_names, k);
}
std::optional<job_kind> parse_job_kind(std::string_view s) {
  return detail::value_of(kind_names, s);
}

std::string_view to_string(job_trigger t) {
  return detail::name_of(trigger_names, t);
}
std::optional<job_trigger> parse_job_trigger(std::string_view s) {
  return detail::value_of(trigger_names, s);
}

std::string_view to_string(job_phase p) {
  return detail::name_of(phase_names, p);
}
std::optional<job_phase> parse_job_phase(std::string_view s) {
  return detail::value_of(phase_names, s);
}

}  // namespace respaldo
