// io() for every type a scan state holds (archive.h): the statistics' accumulators, the scan's
// and the quantization check's results, and the report's metadata. Reading checks each
// structure's invariants (sizes that must agree, enumerations in range, heaps rebuilt, sums
// bounded so a merge cannot overflow) so that later code may rely on them.
#pragma once

#include "maxact/quant_check.h"
#include "maxact/scan.h"
#include "maxact/scan_job.h"
#include "maxact/scan_meta.h"
#include "state/archive.h"

namespace maxact::state {

template <class Ar>
void io(Ar& ar, ScanResult& r);
template <class Ar>
void io(Ar& ar, ScanMeta& m);
template <class Ar>
void io(Ar& ar, QuantRun& q);

}  // namespace maxact::state
