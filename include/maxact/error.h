// Errors raised by the library. Every error names the file (and tensor or key) it is about, and
// carries a code so callers and tests can tell the failure classes apart without parsing text.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace maxact {

enum class ErrorCode {
  kIo,               // file missing, unreadable, not mappable
  kHeaderTooSmall,   // file shorter than the 8-byte header length
  kHeaderTooLarge,   // header length absurdly large (> 100 MiB)
  kHeaderPastEnd,    // header length runs past the end of the file
  kHeaderJson,       // header is not valid JSON or has the wrong structure
  kUnknownDtype,     // dtype string not in the safetensors set
  kSpanSize,         // byte span != dtype size x shape
  kSpanOutside,      // byte span outside the data section
  kSpanOverlap,      // two tensors share bytes
  kSpanGap,          // bytes of the data section that belong to no tensor (gaps, trailing bytes)
  kDuplicateTensor,  // a tensor listed twice (in one header or across shards)
  kIndexJson,        // model.safetensors.index.json malformed
  kShardMissing,     // a shard named in the index does not exist
  kShardName,        // a shard name that is not a plain file name (path traversal)
  kShardContents,    // the index and the shard disagree about where a tensor is
  kNoCheckpoint,     // folder without safetensors files
  kConfig,           // config.json missing, malformed, or a key of the wrong type / value
  kUnsupported,      // model_type or storage layout maxact cannot handle
  kTensorMismatch,   // required tensors missing or with wrong shape / dtype
  kNotFound,         // model folder / hub id not found
  kDtype,            // a conversion asked of a dtype that cannot provide it
  kRange,            // row range outside a tensor
  kTokenizer,        // tokenizer.json malformed
  kCorpus,           // corpus input malformed or empty
  kOption,           // an option value that cannot apply (a tap glob matching nothing, ...)
  kState,            // a scan state file malformed, corrupted, or from another scan
  kInterrupted,      // stopped by a signal after writing its checkpoint
};

std::string_view error_code_name(ErrorCode code);

// Untrusted text (a tensor name, a config value, a file's contents) as it may appear in a
// message: at most `max_bytes` of it, control characters, terminal escapes and invalid UTF-8
// written as escapes, the rest's length said when cut. Quoted ('...') unless `quote` is false.
std::string quote_untrusted(std::string_view text, std::size_t max_bytes = 96, bool quote = true);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace maxact
