// What the scan job's two halves (one scan, bootstrap subsets) share.
#pragma once

#include <string>
#include <vector>

#include "maxact/corpus.h"
#include "maxact/scan.h"
#include "maxact/scan_job.h"

namespace maxact::job {

// The engine's options for the job, without progress (the bootstrap's subsets run silently).
ScanOptions scan_options(const ScanJobOptions& o);

// The content hash of some of a corpus's samples: what a report names its text by.
std::string selection_hash(const Corpus& corpus, const std::vector<std::size_t>& selection);

}  // namespace maxact::job
