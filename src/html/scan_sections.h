// The scan page's sections below its layer-by-layer view (scan_page.cpp): corpus categories, FP16 /
// FP8 headroom, the quantization check, MoE experts. Each adds nothing when the report has no data
// for it.
#pragma once

#include "html/page.h"
#include "html/report_view.h"

namespace maxact::html {

void categories_section(const ScanView& v, Page& page);
void headroom_section(const ScanView& v, Page& page);
void quant_section(const ScanView& v, Page& page);
void experts_section(const ScanView& v, Page& page);

}  // namespace maxact::html
