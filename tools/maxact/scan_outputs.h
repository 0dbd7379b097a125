// The files a scan report is rendered into (-o, --csv, --quant-csv, --imatrix, --html, --format
// study), shared by `maxact scan` and `maxact merge`: known and checked before any work, rendered
// all before any is written.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "maxact/scan_job.h"
#include "scan_command.h"

namespace maxact::cli {

// The files --format study writes into the -o folder.
std::vector<std::string> study_files(const ScanArgs& a);
// Every file the scan will write, known before it starts.
std::vector<std::string> output_paths(const ScanArgs& a);
// The contents of output_paths(), in its order.
std::vector<std::string> render_outputs(const ScanArgs& a, const ScanJobResult& r);
// Every output checked against every input; returns whether the --format study folder is still
// to be made.
bool check_scan_outputs(const ScanArgs& a, const std::vector<std::string>& outputs,
                        const std::vector<std::filesystem::path>& inputs);
void write_outputs(const ScanArgs& a, const std::vector<std::pair<std::string, std::string>>& files,
                   const std::vector<std::filesystem::path>& inputs, bool make_study_dir);
// After the summary, where its files went.
void print_written(const std::vector<std::string>& paths);

}  // namespace maxact::cli
