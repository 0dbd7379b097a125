// Fuzz target: a scan report as `maxact compare` reads it (next to a copy of itself, so the
// cross-model correlation runs too), and as `compare --format study` reads it or a study
// quant_sanity.json.
#include "fuzz_input.h"
#include "io/json_util.h"
#include "maxact/quant_report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace maxact;
  const auto path =
      fuzz::write("report.json", std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::expect_clean([&] {
    const auto j = parse_json(read_text_file(path), path.string(), ErrorCode::kOption);
    (void)compare_reports({{"a.json", j}, {"b.json", j}});
  });
  fuzz::expect_clean([&] {
    const auto j = parse_json(read_text_file(path), path.string(), ErrorCode::kOption);
    (void)study_quant_summary({{"a.json", j}});
  });
  return 0;
}
