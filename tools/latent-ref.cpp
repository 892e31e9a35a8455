// latent-ref: the conformance runner (conformance/FORMAT.md).
//
//   latent-ref run CASE -o RESULT    evaluate one case, write out.K (and gin.K) to RESULT
//   latent-ref check [-v] PATH...    evaluate cases (files, or folders searched for
//                                    *.safetensors) and compare with their expected tensors
//   latent-ref ops                   list the supported ops, their inputs and attributes
//
// check prints one line per failing case, then "N passed, M failed", and exits with 0 only
// when every case passed. A case that cannot be evaluated (unknown op, missing input, bad
// attribute, corrupt file) counts as failed, with its error; the others still run.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <latent/latent.hpp>
#include <latent/io/file.hpp>

#include "conformance/case.hpp"
#include "conformance/runner.hpp"

namespace {

namespace conf = latent::conformance;

const char* const kUsage =
    "usage:\n"
    "  latent-ref run CASE -o RESULT   evaluate one case and write its outputs (and gradients)\n"
    "  latent-ref check [-v] PATH...   compare cases (files or folders) with their expected tensors\n"
    "  latent-ref ops                  list the supported ops\n";

// Runs fn; returns "" or the message of the latent::Error (or other exception) it raised.
// Built without exceptions, an error ends the program through latent's error handler.
std::string guarded(const std::function<void()>& fn) {
#if LATENT_HAS_EXCEPTIONS
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
#else
  fn();
#endif
  return "";
}

// The case files under the given paths, each folder's sorted by name.
std::vector<std::string> collect_cases(const std::vector<std::string>& paths, std::vector<std::string>& errors) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec) && it->path().extension() == ".safetensors") found.push_back(it->path().string());
      if (ec) errors.push_back(p + ": " + ec.message());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      files.push_back(p);
    } else {
      errors.push_back(p + ": no such file or folder");
    }
  }
  return files;
}

std::string short_number(double v) {
  std::ostringstream out;
  out.precision(3);
  out << v;
  return out.str();
}

// "FAIL path: op gin.1: max abs err 1e-3, max rel err 2e-2, 3 of 40 elements out of
// tolerance (atol 1e-05, rtol 0.0001), worst [0, 2]: got ..., want ...; out.0: ..."
std::string failure_line(const conf::Case& c, const std::vector<conf::TensorReport>& reports) {
  std::string line = "FAIL " + c.path + ": " + c.op + " (" + c.dtype_name() + ")";
  bool first = true;
  for (const conf::TensorReport& r : reports) {
    if (r.ok) continue;
    line += first ? " " : "; ";
    first = false;
    line += r.name + ": ";
    if (!r.problem.empty()) {
      line += r.problem;
      continue;
    }
    line += "max abs err " + short_number(r.max_abs) + ", max rel err " + short_number(r.max_rel) + ", " +
            std::to_string(r.bad) + " of " + std::to_string(r.total) + " elements out of tolerance (atol " +
            short_number(c.atol) + ", rtol " + short_number(c.rtol) + "), worst " + r.worst;
  }
  return line;
}

int command_check(const std::vector<std::string>& args) {
  bool verbose = false;
  std::vector<std::string> paths;
  for (const std::string& a : args) {
    if (a == "-v" || a == "--verbose") {
      verbose = true;
    } else if (!a.empty() && a[0] == '-') {
      std::cerr << "latent-ref check: unknown option " << a << "\n" << kUsage;
      return 2;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) {
    std::cerr << "latent-ref check: no case files or folders given\n" << kUsage;
    return 2;
  }
  std::vector<std::string> errors;
  const std::vector<std::string> files = collect_cases(paths, errors);
  int passed = 0, failed = 0;
  for (const std::string& e : errors) {
    std::cout << "ERROR " << e << "\n";
    ++failed;
  }
  for (const std::string& file : files) {
    conf::Case c;
    std::vector<conf::TensorReport> reports;
    const std::string error = guarded([&] {
      c = conf::load_case(file);
      reports = conf::compare(c, conf::evaluate(c));
    });
    if (!error.empty()) {
      std::cout << "ERROR " << file << ": " << error << "\n";
      ++failed;
      continue;
    }
    const bool ok = std::all_of(reports.begin(), reports.end(), [](const conf::TensorReport& r) { return r.ok; });
    if (ok) {
      ++passed;
      if (verbose) std::cout << "ok   " << file << "\n";
    } else {
      ++failed;
      std::cout << failure_line(c, reports) << "\n";
    }
  }
  if (files.empty() && errors.empty()) {
    std::cout << "no *.safetensors cases found\n";
    ++failed;
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}

int command_run(const std::vector<std::string>& args) {
  std::string input, output;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-o" && i + 1 < args.size()) {
      output = args[++i];
    } else if (input.empty() && !args[i].empty() && args[i][0] != '-') {
      input = args[i];
    } else {
      std::cerr << "latent-ref run: unexpected argument " << args[i] << "\n" << kUsage;
      return 2;
    }
  }
  if (input.empty() || output.empty()) {
    std::cerr << "latent-ref run: needs a case and -o RESULT\n" << kUsage;
    return 2;
  }
  const std::string error = guarded([&] {
    const conf::Case c = conf::load_case(input);
    const conf::Results r = conf::evaluate(c);
    latent::io::write_file_atomic(output, r.to_bytes());
  });
  if (!error.empty()) {
    std::cerr << "latent-ref: " << input << ": " << error << "\n";
    return 1;
  }
  return 0;
}

int command_ops() {
  for (const auto& entry : conf::registry().ops()) {
    const conf::OpSpec& op = entry.second;
    std::cout << op.name << "(" << op.input_text << ")";
    if (!op.attrs.empty()) std::cout << "  " << op.attr_list();
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "check") return command_check(rest);
  if (args[0] == "run") return command_run(rest);
  if (args[0] == "ops") return command_ops();
  std::cerr << "latent-ref: unknown command " << args[0] << "\n" << kUsage;
  return 2;
}
