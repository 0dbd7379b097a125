// Writing maxact's outputs without ever destroying data. Every output is checked before any work
// starts (so a bad path fails in a second, not after hours of scanning), then written through a
// temporary created exclusively beside it and renamed into place, all files or none.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace maxact {

// Throws kIo naming the path when an output could not (or must not) be written: its folder is
// missing or not writable; it exists and is not a regular file (a device, FIFO, socket or folder
// is never replaced); two outputs are the same file (however spelled); an output is one of
// `inputs` (a model file, the corpus). Empty paths are skipped.
void check_outputs(const std::vector<std::string>& outputs,
                   const std::vector<std::filesystem::path>& inputs = {});

// Writes every (path, contents) pair: each through a uniquely named temporary made with O_EXCL
// in the target's folder (an existing file or symlink there is never written through), flushed
// and closed with errors checked, then all renamed into place. When any step fails, every target
// keeps its previous contents and no temporary is left. Runs check_outputs first.
void commit_outputs(const std::vector<std::pair<std::string, std::string>>& files,
                    const std::vector<std::filesystem::path>& inputs = {});

// The regular files a model folder or corpus path stands for (a folder's direct entries, or the
// file itself): what outputs must not overwrite.
std::vector<std::filesystem::path> input_files(const std::filesystem::path& path);

}  // namespace maxact
