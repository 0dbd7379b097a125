// Hostile and malformed input, one row per class (issue: reliability): every row runs the
// program and expects a clear error naming the file and the problem, the documented exit status,
// no hang (each command runs under `timeout`), nothing unescaped echoed, and no input or
// unrelated file touched. Checkpoint-structure classes are in test_cli_errors.cpp.
// Over 400 lines: it is one table of input classes and the runner they share.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace maxact {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// 100 000 levels of [ ] around a value: 200 KB that once crashed every JSON reader.
std::string deep(const std::string& inner = "1") {
  return std::string(100000, '[') + inner + std::string(100000, ']');
}

struct Env {
  test::TempDir dir;
  fs::path model;   // a copy of the llama fixture, free to damage
  std::string ids;  // a small --ids-native corpus
  Env() : model(dir / "model") {
    fs::copy(test::fixture("llama"), model, fs::copy_options::recursive);
    ids = (dir / "ids.jsonl").string();
    test::write_file(ids,
                     "{\"input_ids\": [1, 2, 3, 4], \"category\": \"a\"}\n"
                     "{\"input_ids\": [5, 6, 7], \"category\": \"b\"}\n");
  }
  std::string scan(const std::string& extra) const {
    return test::maxact_binary() + " scan " + model.string() + " --corpus " + ids +
           " --ids-native -q --taps 'layer_0_hidden' " + extra;
  }
  void set_config(const std::string& key, const json& value) const {
    auto c = json::parse(test::read_file(model / "config.json"));
    c[key] = value;
    test::write_file(model / "config.json", c.dump());
  }
  void set_config_text(const std::string& key, const std::string& raw) const {
    auto c = json::parse(test::read_file(model / "config.json"));
    c[key] = 0;
    std::string text = c.dump();
    const std::string from = "\"" + key + "\":0";
    text.replace(text.find(from), from.size(), "\"" + key + "\":" + raw);
    test::write_file(model / "config.json", text);
  }
};

struct Row {
  const char* name;
  // Prepares the damage and returns the command.
  std::function<std::string(Env&)> setup;
  int exit_code;
  std::vector<std::string> err;  // fragments of stderr
  // Extra checks after the run (outputs absent, inputs intact).
  std::function<void(const Env&)> after = nullptr;
};

std::string fifo(const fs::path& p) {
  fs::remove(p);
  EXPECT_EQ(::mkfifo(p.c_str(), 0600), 0);
  return p.string();
}

std::vector<Row> rows() {
  return {
      // --- deeply nested JSON, everywhere JSON is read
      {"nested_corpus_ids",
       [](Env& e) {
         test::write_file(e.ids, "{\"input_ids\": " + deep() + "}\n");
         return e.scan("");
       },
       1,
       {"ids.jsonl:1: malformed JSON: nested more than 64 levels"}},
      {"nested_config",
       [](Env& e) {
         e.set_config_text("hidden_size", deep());
         return e.scan("");
       },
       1,
       {"config.json: malformed JSON: nested more than 64 levels"}},
      {"nested_safetensors_shape",
       [](Env& e) {
         test::write_file(e.model / "model.safetensors",
                          test::raw_safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":" + deep() +
                                                    ",\"data_offsets\":[0,4]}}",
                                                std::string(4, '\0')));
         return test::maxact_binary() + " inspect " + e.model.string();
       },
       1,
       {"model.safetensors: malformed JSON: nested more than 64 levels"}},
      {"nested_tokenizer_merge",
       [](Env& e) {
         test::write_file(
             e.dir / "tokenizer.json",
             "{\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[" + deep() + "]}}");
         return test::maxact_binary() + " tokenize " + (e.dir / "tokenizer.json").string() +
                " --text x";
       },
       1,
       {"tokenizer.json: malformed JSON: nested more than 64 levels"}},
      {"nested_report",
       [](Env& e) {
         test::write_file(e.dir / "r.json",
                          "{\"schema\":\"maxact.scan\",\"model\":" + deep() + "}");
         return test::maxact_binary() + " compare " + (e.dir / "r.json").string();
       },
       1,
       {"r.json: malformed JSON: nested more than 64 levels"}},
      // --- untrusted text is escaped and cut in messages
      {"escape_sequences_in_tensor_name",
       [](Env& e) {
         test::write_file(
             e.model / "model.safetensors",
             test::raw_safetensors("{\"\\u001b[31mred\":{\"dtype\":\"Q9\",\"shape\":[1],"
                                   "\"data_offsets\":[0,4]}}",
                                   std::string(4, '\0')));
         return test::maxact_binary() + " inspect " + e.model.string();
       },
       1,
       {"tensor '\\x1B[31mred'"}},
      {"huge_refs_main",
       [](Env& e) {
         const fs::path repo = e.dir / "hub" / "models--org--m";
         fs::create_directories(repo / "refs");
         test::write_file(repo / "refs" / "main", std::string(5 << 20, 'z'));
         return "HF_HUB_CACHE=" + (e.dir / "hub").string() + " " + test::maxact_binary() +
                " inspect org/m";
       },
       1,
       {"refs/main", "-byte limit"}},
      {"non_string_model_type",
       [](Env& e) {
         e.set_config("model_type", 5);
         return e.scan("");
       },
       1,
       {"config.json: 'model_type' must be a string, found 5"}},
      {"escape_in_config_value",
       [](Env& e) {
         e.set_config("rope_scaling", json{{"rope_type", "\x1b[31mEVIL\x07"}});
         return e.scan("");
       },
       1,
       {"unsupported rope type", "\\x1B[31mEVIL\\x07"}},
      {"escape_in_corpus_category_on_stdout",
       [](Env& e) {
         test::write_file(e.ids, "{\"text\": \"x\", \"category\": \"\\u001b[2J\"}\n");
         return test::maxact_binary() + " corpus --corpus " + e.ids;
       },
       0,
       {},
       [](const Env&) {}},
      {"non_utf8_path_in_json_output",
       [](Env& e) {
         const fs::path odd = e.dir / "bad\xffname";
         fs::rename(e.model, odd);
         e.model = odd;
         return test::maxact_binary() + " inspect --json '" + odd.string() + "'";
       },
       0,
       {}},
      // --- tokenizer.json contents
      {"tokenizer_class_not_a_string",
       [](Env& e) {
         fs::create_directories(e.dir / "tok");
         fs::copy(test::fixture("gemma3_tok") / "tokenizer.json", e.dir / "tok" / "tokenizer.json");
         test::write_file(e.dir / "tok" / "tokenizer_config.json", "{\"tokenizer_class\": null}");
         return test::maxact_binary() + " tokenize " + (e.dir / "tok").string() + " --text hi";
       },
       1,
       {"malformed tokenizer: type must be string"}},
      {"replace_chain_grows_without_bound",
       [](Env& e) {
         auto tok = json::parse(test::read_file(test::fixture("gemma3_tok") / "tokenizer.json"));
         json stage = {{"type", "Replace"},
                       {"pattern", {{"String", "a"}}},
                       {"content", std::string(1000, 'a')}};
         tok["normalizer"] = {{"type", "Sequence"}, {"normalizers", {stage, stage, stage}}};
         test::write_file(e.dir / "tok.json", tok.dump());
         return test::maxact_binary() + " tokenize " + (e.dir / "tok.json").string() +
                " --text aaaaaaaaaa";
       },
       1,
       {"a Replace step grows the text past"}},
      {"template_id_out_of_range",
       [](Env& e) {
         auto tok = json::parse(test::read_file(test::fixture("gemma3_tok") / "tokenizer.json"));
         tok["post_processor"] = {
             {"type", "TemplateProcessing"},
             {"single", {{{"SpecialToken", {{"id", "<s>"}}}}, {{"Sequence", {{"id", "A"}}}}}},
             {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {99999999999LL}}}}}}};
         test::write_file(e.dir / "tok.json", tok.dump());
         return test::maxact_binary() + " tokenize " + (e.dir / "tok.json").string() +
                " --text hi --special";
       },
       1,
       {"must be non-negative 32-bit integers"}},
      {"unsupported_hidden_act",
       [](Env& e) {
         e.set_config("hidden_act", "gelu");
         return e.scan("");
       },
       1,
       {"hidden_act 'gelu' is not supported"}},
      // --- option values out of range: usage errors (2), before anything is read
      {"topk_huge",
       [](Env& e) { return e.scan("--topk 1000000000"); },
       2,
       {"maxact: error: --topk"}},
      {"seed_negative", [](Env& e) { return e.scan("--seed -1"); }, 2, {"--seed"}},
      {"empty_output_path", [](Env& e) { return e.scan("-o ''"); }, 2, {"empty path"}},
      {"unknown_option",
       [](Env& e) { return e.scan("--bogus"); },
       2,
       {"maxact: error: The following argument was not expected: --bogus"}},
      {"threads_huge", [](Env& e) { return e.scan("--threads 1000000000"); }, 2, {"--threads"}},
      {"samples_negative", [](Env& e) { return e.scan("--samples -1"); }, 2, {"--samples"}},
      {"max_seq_len_negative",
       [](Env& e) { return e.scan("--max-seq-len -5"); },
       2,
       {"--max-seq-len"}},
      {"bootstrap_huge",
       [](Env& e) { return e.scan("--bootstrap 100000000 --samples 1"); },
       2,
       {"--bootstrap"}},
      {"window_tokens_huge",
       [](Env& e) { return e.scan("--window-tokens 1e308"); },
       2,
       {"--window-tokens"}},
      // --- FIFOs and devices as inputs: refused at once, never a blocking open
      {"fifo_safetensors",
       [](Env& e) {
         fifo(e.model / "model.safetensors");
         return test::maxact_binary() + " inspect " + e.model.string();
       },
       1,
       {"model.safetensors: not a regular file"}},
      {"fifo_config",
       [](Env& e) {
         fifo(e.model / "config.json");
         return test::maxact_binary() + " inspect " + e.model.string();
       },
       1,
       {"config.json: not a regular file"}},
      {"dev_zero_corpus",
       [](Env& e) { return e.scan("").replace(e.scan("").find(e.ids), e.ids.size(), "/dev/zero"); },
       1,
       {"/dev/zero: not a regular file"}},
      {"dev_zero_tokenizer",
       [](Env&) { return test::maxact_binary() + " tokenize /dev/zero --text x"; },
       1,
       {"/dev/zero: not a regular file"}},
      {"folder_as_tokenize_file",
       [](Env& e) {
         return test::maxact_binary() + " tokenize " + test::fixture("gemma3_tok").string() +
                " --file " + e.dir.path().string();
       },
       1,
       {"not a regular file"}},
      // --- config.json values out of range name the key
      {"hidden_size_wraps",
       [](Env& e) {
         e.set_config("hidden_size", 4294967488LL);
         return e.scan("");
       },
       1,
       {"config.json: 'hidden_size' must be between 1 and 131072, found 4294967488"}},
      {"layers_huge",
       [](Env& e) {
         e.set_config("num_hidden_layers", 100000000);
         return e.scan("");
       },
       1,
       {"'num_hidden_layers' must be between"}},
      {"rope_theta_zero",
       [](Env& e) {
         e.set_config("rope_theta", 0);
         return e.scan("");
       },
       1,
       {"'rope_theta' must be positive"}},
      {"max_position_negative",
       [](Env& e) {
         e.set_config("max_position_embeddings", -4);
         return e.scan("");
       },
       1,
       {"'max_position_embeddings' must be between 1"}},
      {"self_looping_symlink_in_corpus_folder",
       [](Env& e) {
         fs::create_directories(e.dir / "cf");
         fs::copy(e.ids, e.dir / "cf" / "a.jsonl");
         fs::create_symlink(e.dir / "cf" / "x.jsonl", e.dir / "cf" / "x.jsonl");
         return test::maxact_binary() + " corpus --corpus " + (e.dir / "cf").string();
       },
       0,
       {}},
      {"stdout_full",
       [](Env& e) {
         return test::maxact_binary() + " inspect " + e.model.string() + " >/dev/full";
       },
       1,
       {"stdout: write failed"}},
      {"duplicate_key_in_corpus_line",
       [](Env& e) {
         test::write_file(e.ids, "{\"input_ids\": [1], \"input_ids\": [2]}\n");
         return e.scan("");
       },
       1,
       {"ids.jsonl:1: key 'input_ids' appears twice"}},
      // --- corpus and report contents
      {"out_of_vocabulary_ids",
       [](Env& e) {
         test::write_file(e.ids, "{\"input_ids\": [1, 2]}\n{\"input_ids\": [3, 999999]}\n");
         return e.scan("");
       },
       1,
       {"ids.jsonl:2: token id 999999 is outside the model's vocabulary"}},
      {"report_with_numeric_model",
       [](Env& e) {
         test::write_file(e.dir / "r.json",
                          R"({"schema":"maxact.scan","model":{"argument":5,"model_type":"x"}})");
         return test::maxact_binary() + " compare " + (e.dir / "r.json").string();
       },
       1,
       {"r.json: malformed maxact scan report"}},
      {"report_with_negative_counts",
       [](Env& e) {
         test::write_file(e.dir / "r.json",
                          R"({"schema":"maxact.scan","model":{"argument":"m","model_type":"x"},)"
                          R"("options":{"precision":"fp32"},"run":{"tokens":-5},)"
                          R"("global_max":null,"taps":[]})");
         return test::maxact_binary() + " compare " + (e.dir / "r.json").string();
       },
       1,
       {"r.json: malformed maxact scan report: run.tokens must be a non-negative integer"}},
      // --- outputs never destroy inputs, devices or other files
      {"output_is_the_weights",
       [](Env& e) { return e.scan("-o " + (e.model / "model.safetensors").string()); },
       1,
       {"model.safetensors: is an input of this run"},
       [](const Env& e) {
         EXPECT_EQ(test::read_file(e.model / "model.safetensors"),
                   test::read_file(test::fixture("llama") / "model.safetensors"));
       }},
      {"csv_is_the_config",
       [](Env& e) { return e.scan("--csv " + (e.model / "config.json").string()); },
       1,
       {"config.json: is an input of this run"}},
      {"output_is_the_corpus",
       [](Env& e) { return e.scan("-o " + e.ids); },
       1,
       {"ids.jsonl: is an input of this run"}},
      {"export_onto_its_input",
       [](Env& e) {
         return test::maxact_binary() + " corpus --corpus " + e.ids + " --export " + e.ids;
       },
       1,
       {"is an input of this run"}},
      {"output_is_a_device",
       [](Env& e) { return e.scan("--csv /dev/null"); },
       1,
       {"/dev/null: exists and is not a regular file"},
       [](const Env&) {
         struct stat st {};
         ASSERT_EQ(::stat("/dev/null", &st), 0);
         EXPECT_TRUE(S_ISCHR(st.st_mode));
       }},
      {"output_is_a_fifo",
       [](Env& e) { return e.scan("-o " + fifo(e.dir / "pipe")); },
       1,
       {"pipe: exists and is not a regular file"}},
      {"same_output_spelled_twice",
       [](Env& e) { return "cd " + e.dir.path().string() + " && " + e.scan("-o ./x --csv x"); },
       1,
       {"given for two outputs"},
       [](const Env& e) { EXPECT_FALSE(fs::exists(e.dir / "x")); }},
      {"failed_study_scan_leaves_no_folder",
       [](Env& e) {
         test::write_file(e.ids, "{\"input_ids\": [1, 999999]}\n");
         return e.scan("--format study -o " + (e.dir / "study").string());
       },
       1,
       {"outside the model's vocabulary"},
       [](const Env& e) { EXPECT_FALSE(fs::exists(e.dir / "study")); }},
      {"symlink_at_old_temporary_name",
       [](Env& e) {
         test::write_file(e.dir / "victim", "keep me");
         fs::create_symlink(e.dir / "victim", e.dir / "r.json.tmp");
         return e.scan("-o " + (e.dir / "r.json").string());
       },
       0,
       {},
       [](const Env& e) {
         EXPECT_EQ(test::read_file(e.dir / "victim"), "keep me");
         EXPECT_TRUE(fs::is_symlink(e.dir / "r.json.tmp"));
         EXPECT_TRUE(json::accept(test::read_file(e.dir / "r.json")));
       }},
  };
}

TEST(HostileInputs, EveryClassFailsCleanly) {
  for (const Row& row : rows()) {
    SCOPED_TRACE(row.name);
    Env e;
    const std::string cmd = row.setup(e);
    // A hang is a failure of its own: timeout exits 124.
    const auto r = test::run_command("timeout 120 sh -c '" + [&] {
      std::string q;
      for (char c : cmd) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      return q;
    }() + "'");
    EXPECT_EQ(r.exit_code, row.exit_code) << r.err;
    for (const auto& frag : row.err) EXPECT_NE(r.err.find(frag), std::string::npos) << r.err;
    if (row.exit_code != 0) {
      EXPECT_TRUE(r.out.empty()) << r.out.substr(0, 500);
      EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
    }
    EXPECT_LT(r.err.size(), 2000u) << r.err.substr(0, 500);
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos);
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
    if (row.after) row.after(e);
  }
}

// Two scans writing the same report at once: each commits a complete file, so whichever renames
// last leaves valid JSON (before: interleaved writes to one shared temporary).
TEST(HostileInputs, ConcurrentScansToOneOutputLeaveValidJson) {
  Env e;
  const std::string out = (e.dir / "r.json").string();
  const std::string cmd = e.scan("-o " + out);
  const auto r = test::run_command("(" + cmd + " & " + cmd + " & " + cmd + " & wait)");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(json::accept(test::read_file(out)));
  for (const auto& f : fs::directory_iterator(e.dir.path())) {
    EXPECT_EQ(f.path().filename().string().find(".maxact-"), std::string::npos) << f.path();
  }
}

// A valid safetensors header of 200 000 tensors parses in linear time (it was quadratic: 40 000
// took 21 s, 1.6 M never finished); the timeout is a hang detector, not a benchmark.
TEST(HostileInputs, ManyTensorHeaderIsLinear) {
  Env e;
  std::string header = "{";
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    // fmt, not operator+ chains: GCC 12 at -O3 warns (-Wrestrict, a false positive) on those.
    header += fmt::format("{}\"t{}\":{{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[{},{}]}}",
                          i ? "," : "", i, i, i + 1);
  }
  header += "}";
  test::write_file(e.model / "model.safetensors",
                   test::raw_safetensors(header, std::string(static_cast<std::size_t>(n), 'x')));
  const auto r =
      test::run_command("timeout 120 " + test::maxact_binary() + " inspect " + e.model.string());
  // The tensors are not the model's: the error is about missing weights, after a full parse.
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.find("malformed"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace maxact
