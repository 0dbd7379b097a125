// Validation of a safetensors header's contents (private to the io layer): each tensor entry's
// fields, dtype, shape and byte span, the __metadata__ object, and the spans' exact cover of the
// data section. Split out of safetensors.cpp, which keeps the file-level checks and checkpoints.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "maxact/error.h"
#include "maxact/safetensors.h"

namespace maxact::safetensors_detail {

// Throws `code` with "FILE: msg".
[[noreturn]] void fail(ErrorCode code, const std::string& file, const std::string& msg);

// "tensor 'NAME'", the name quoted as untrusted text.
std::string tensor_where(const std::string& name);

// __metadata__: must be an object of strings; copies its entries into `metadata`.
void read_metadata(const nlohmann::json& entry, const std::string& file,
                   std::map<std::string, std::string>& metadata);

// One tensor entry of the header, checked in this order: fields, dtype, shape, data_offsets, span
// size against dtype x shape, span inside the data section (`data_size` bytes starting at file
// offset `data_begin`). Sets name, dtype, shape, nbytes and file_offset (not file, not data).
TensorView parse_tensor_entry(const std::string& file, const std::string& name,
                              const nlohmann::json& entry, uint64_t data_begin, uint64_t data_size);

// The non-empty spans, sorted, must cover [data_begin, file_size) exactly: no overlap, no gap,
// the last one ending at the end of the file (as the reference implementation requires).
void check_coverage(const std::vector<TensorView>& tensors, uint64_t data_begin, uint64_t file_size,
                    const std::string& file);

}  // namespace maxact::safetensors_detail
