// Pieces the subcommands share: option limits, report writing, terminal-safe printing.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace maxact::cli {

// The accepted range of every count option, checked on the text before conversion (so "-1" is
// refused, not wrapped to 2^64 - 1). Bounds sit far beyond real use and keep allocations sized
// by an option (top-K heaps, thread stacks, subsets) from exhausting memory.
namespace limits {
inline const CLI::Range kSamples(int64_t{0}, int64_t{1} << 40, "SAMPLES");
inline const CLI::Range kSeqLen(int64_t{0}, int64_t{1} << 24, "TOKENS");
inline const CLI::Range kWindowTokens(int64_t{1}, int64_t{1} << 24, "TOKENS");
inline const CLI::Range kThreads(int64_t{0}, int64_t{1024}, "THREADS");
inline const CLI::Range kTopK(int64_t{1}, int64_t{100000}, "K");
inline const CLI::Range kBootstrap(int64_t{0}, int64_t{10000}, "K");
inline const CLI::Range kQuantSamples(int64_t{1}, int64_t{1} << 40, "SAMPLES");
inline const CLI::Range kSeed(int64_t{0}, INT64_MAX, "SEED");
// A path option given as '' would silently mean "not given" (no output, the built-in corpus).
inline const CLI::Validator kPath(
    [](std::string& s) { return s.empty() ? std::string("an empty path") : std::string(); },
    "PATH");
// A label given as '' would be recorded as "not given" (null).
inline const CLI::Validator kLabel(
    [](std::string& s) { return s.empty() ? std::string("an empty label") : std::string(); },
    "NAME");
}  // namespace limits

// JSON as written to a file or stdout, with a newline. Invalid UTF-8 (a path that is not UTF-8,
// a token's bytes) becomes U+FFFD instead of failing the run at its end.
// (A template: the study's files are ordered_json, whose key order must survive.)
template <class Json>
std::string json_text(const Json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// Text for a terminal: each line's control characters, terminal escapes and invalid UTF-8
// escaped (quote_untrusted), lines cut to `max_line` bytes. Messages and summaries carry names
// from the files read (tensor names, categories, model names); none may drive the terminal.
std::string printable(std::string_view text, std::size_t max_line = static_cast<std::size_t>(-1));

// Writes `text` to stdout and flushes: a full disk or closed stdout is an error, not exit 0.
// Summaries go through printable(); `raw` is for what the user asked for verbatim (decoded text).
void write_stdout(const std::string& text, bool raw = false);

// The command line as a POSIX shell would re-read it (arguments quoted where needed).
std::string shell_command(int argc, char** argv);

// Prints each message to stderr as "warning: ..." (printable); nothing when `quiet`.
std::function<void(const std::string&)> warn_each(bool quiet);
// Prints each message to stderr as "maxact: ..." (what the run is doing); nothing when `quiet`.
std::function<void(const std::string&)> note_each(bool quiet);

}  // namespace maxact::cli
