// Fuzz target: a scan report as `maxact compare` reads it (next to a copy of itself, so the
// cross-model correlation runs too), as `compare --format study` reads it or a study
// quant_sanity.json, and as `maxact report` renders it (page, comparison page, model card).
#include "fuzz_input.h"
#include "io/json_util.h"
#include "maxact/html_report.h"
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
  fuzz::expect_clean([&] {
    const auto j = parse_json(read_text_file(path), path.string(), ErrorCode::kOption);
    (void)render_html_report(j, "a.json");
  });
  fuzz::expect_clean([&] {
    const auto j = parse_json(read_text_file(path), path.string(), ErrorCode::kOption);
    (void)render_model_card(j, "a.json");
  });
  fuzz::expect_clean([&] {
    const auto j = parse_json(read_text_file(path), path.string(), ErrorCode::kOption);
    (void)render_html_compare({{"a.json", j}, {"b.json", j}});
  });
  return 0;
}
