// What every example's command line shares: the standard flags, --help, and the closing
// `result:` line.
//
//   train::Args args("mlp_fashion", "An MLP classifier on Fashion-MNIST.");
//   args.add("hidden", "256", "hidden layer width");      // example-specific flags
//   args.parse(argc, argv);                               // exits after --help
//   int epochs = args.get_int("epochs", 10);               // quick-aware defaults by hand
//
// Standard flags: --epochs N, --steps N, --batch-size N, --lr X, --threads N, --seed N,
// --out DIR (default out/<example>), --save FILE, --resume FILE, --quick.
//
// Args is a class template (Args = BasicArgs<>), and print_result a function template,
// only so that they are compiled in the programs that use them, not in every program that
// includes the library.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/parallel.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/stat.h>
#endif

namespace latent::train {

template <class = void>
class BasicArgs {
 public:
  BasicArgs(std::string program, std::string description) : program_(std::move(program)), description_(std::move(description)) {
    add("epochs", "", "passes over the training data");
    add("steps", "", "training steps (for step-based examples)");
    add("batch-size", "", "examples per step");
    add("lr", "", "learning rate");
    add("threads", "", "threads for the library's loops (default: all cores)");
    add("seed", "0", "random seed");
    add("out", "out/" + program_, "folder for pictures, curves and checkpoints");
    add("save", "", "write a checkpoint to this file at the end");
    add("resume", "", "start from this checkpoint");
    add("quick", "", "a run of a minute or less (for the demo and CI)", true);
  }

  // Declares a flag --name with a default value (empty: unset) and a help line.
  BasicArgs& add(const std::string& name, const std::string& default_value, const std::string& help, bool is_switch = false) {
    if (!flags_.count(name)) order_.push_back(name);
    flags_[name] = {default_value, help, is_switch, false};
    return *this;
  }

  void parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--help" || a == "-h") {
        print_help();
        std::exit(0);
      }
      LATENT_CHECK(a.rfind("--", 0) == 0, program_, ": unexpected argument '", a, "' (see --help)");
      a = a.substr(2);
      std::string value;
      const auto eq = a.find('=');
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
      }
      auto it = flags_.find(a);
      LATENT_CHECK(it != flags_.end(), program_, ": unknown flag --", a, " (see --help)");
      if (it->second.is_switch) {
        value = value.empty() ? "1" : value;
      } else if (eq == std::string::npos) {
        LATENT_CHECK(i + 1 < argc, program_, ": --", a, " needs a value");
        value = argv[++i];
      }
      it->second.value = value;
      it->second.given = true;
    }
    if (has("threads")) set_num_threads(static_cast<int>(get_int("threads", 1)));
  }

  bool has(const std::string& name) const { return !flag(name).value.empty(); }
  bool quick() const { return has("quick") && flag("quick").value != "0"; }
  std::string get(const std::string& name, const std::string& fallback = "") const {
    return has(name) ? flag(name).value : fallback;
  }
  std::int64_t get_int(const std::string& name, std::int64_t fallback) const {
    if (!has(name)) return fallback;
    char* end = nullptr;
    const long long v = std::strtoll(flag(name).value.c_str(), &end, 10);
    LATENT_CHECK(end && *end == '\0', program_, ": --", name, " expects an integer, got '", flag(name).value, "'");
    return v;
  }
  double get_double(const std::string& name, double fallback) const {
    if (!has(name)) return fallback;
    char* end = nullptr;
    const double v = std::strtod(flag(name).value.c_str(), &end);
    LATENT_CHECK(end && *end == '\0', program_, ": --", name, " expects a number, got '", flag(name).value, "'");
    return v;
  }
  // The output folder, created if needed.
  std::string out_dir() const {
    const std::string dir = get("out");
    make_dirs(dir);
    return dir;
  }

  void print_help() const {
    std::cout << program_ << ": " << description_ << "\n\nflags:\n";
    const auto label = [this](const std::string& name) { return name + (flags_.at(name).is_switch ? "" : " V"); };
    std::size_t width = 14;  // the label column fits the longest flag, plus two spaces
    for (const std::string& name : order_) width = std::max(width, label(name).size() + 2);
    for (const std::string& name : order_) {
      const Flag& f = flags_.at(name);
      std::cout << "  --" << std::left;
      std::cout.width(static_cast<std::streamsize>(width));
      std::cout << label(name) << f.help;
      if (!f.value.empty() && !f.is_switch) std::cout << " (default " << f.value << ")";
      std::cout << "\n";
    }
  }

  static void make_dirs(const std::string& path) {
#if defined(__unix__) || defined(__APPLE__)
    for (std::size_t i = 1; i <= path.size(); ++i)
      if (i == path.size() || path[i] == '/') ::mkdir(path.substr(0, i).c_str(), 0755);
#else
    (void)path;
#endif
  }

 private:
  struct Flag {
    std::string value, help;
    bool is_switch, given;
  };
  const Flag& flag(const std::string& name) const {
    auto it = flags_.find(name);
    LATENT_CHECK(it != flags_.end(), program_, ": no flag --", name);
    return it->second;
  }
  std::string program_, description_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
};

using Args = BasicArgs<>;

// Prints the closing line scripts read: "result: name=value name=value ...".
template <class = void>
void print_result(const std::vector<std::pair<std::string, double>>& figures) {
  std::ostringstream line;
  line.precision(6);
  line << "result:";
  for (const auto& f : figures) line << ' ' << f.first << '=' << f.second;
  std::cout << line.str() << std::endl;
}

}  // namespace latent::train
