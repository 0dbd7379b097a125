// What a scan state must agree on with a job to continue it, or with another state to merge:
// maxact's version, the model's files (size and first MiB), the corpus selection, the recorded
// options, the tap names and the kernels (whose summation orders differ).
#pragma once

#include <map>
#include <string>

#include "maxact/scan_job.h"
#include "maxact/scan_state.h"

namespace maxact {

std::map<std::string, std::string> job_identity(const ScanJob& job);

// The state of `result` (moved in last: if this throws, `result` is untouched) under `identity`
// (job_identity(job), computed once by a caller that saves often).
ScanState state_of(const ScanJob& job, std::map<std::string, std::string> identity,
                   ScanJobResult&& result);

// The first field where two identities differ, with both values and where each is from ("" when
// they agree).
std::string identity_difference(const std::map<std::string, std::string>& a,
                                const std::map<std::string, std::string>& b,
                                const std::string& in_a, const std::string& in_b);

}  // namespace maxact
