// invariant_check DB REQUEST.json REPORT.json: checks a batch report against a SQLite store
// (see invariant_checker.hpp); prints every violation and exits 1 if there is one.
#include "invariant_checker.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: invariant_check DB REQUEST.json REPORT.json\n";
    return 2;
  }
  try {
    auto request = nlohmann::json::parse(std::ifstream{argv[2]});
    auto report = nlohmann::json::parse(std::ifstream{argv[3]});
    auto problems = taskpipe::test::check_invariant(request, report, argv[1]);
    for (const auto& p : problems)
      std::cerr << "invariant violated: " << p << "\n";
    if (problems.empty())
      std::cout << "invariant holds for " << report.at("total") << " tasks of "
                << report.at("batch_id").get<std::string>() << "\n";
    return problems.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "invariant_check: " << e.what() << "\n";
    return 2;
  }
}
