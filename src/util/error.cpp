#include "maxact/error.h"

namespace maxact {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kHeaderTooSmall:
      return "header_too_small";
    case ErrorCode::kHeaderTooLarge:
      return "header_too_large";
    case ErrorCode::kHeaderPastEnd:
      return "header_past_end";
    case ErrorCode::kHeaderJson:
      return "header_json";
    case ErrorCode::kUnknownDtype:
      return "unknown_dtype";
    case ErrorCode::kSpanSize:
      return "span_size";
    case ErrorCode::kSpanOutside:
      return "span_outside";
    case ErrorCode::kSpanOverlap:
      return "span_overlap";
    case ErrorCode::kSpanGap:
      return "span_gap";
    case ErrorCode::kDuplicateTensor:
      return "duplicate_tensor";
    case ErrorCode::kIndexJson:
      return "index_json";
    case ErrorCode::kShardMissing:
      return "shard_missing";
    case ErrorCode::kShardName:
      return "shard_name";
    case ErrorCode::kShardContents:
      return "shard_contents";
    case ErrorCode::kNoCheckpoint:
      return "no_checkpoint";
    case ErrorCode::kConfig:
      return "config";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kTensorMismatch:
      return "tensor_mismatch";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kDtype:
      return "dtype";
    case ErrorCode::kRange:
      return "range";
    case ErrorCode::kTokenizer:
      return "tokenizer";
    case ErrorCode::kCorpus:
      return "corpus";
    case ErrorCode::kOption:
      return "option";
  }
  return "?";
}

}  // namespace maxact
