// `taskpipe --version`: one line on stdout, exit 0, with the project version, the git commit of
// the build (when built from a checkout) and the CAF version.
#include "support/process.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <regex>

using namespace taskpipe::test;

namespace {

/// The commit the source tree is at, or "" when it is not a git checkout.
std::string source_commit() {
  if (!std::filesystem::exists("/usr/bin/git"))
    return {};
  auto r = exec({"/usr/bin/git", "-C", TASKPIPE_SOURCE_DIR, "rev-parse", "--short=12", "HEAD"});
  return r.status == 0 ? r.out.substr(0, 12) : std::string{};
}

} // namespace

TEST_CASE("version: --version and -V print one line on stdout and exit 0", "[operator][version]") {
  for (auto flag : {"--version", "-V"}) {
    INFO(flag);
    auto r = taskpipe_exec({flag});
    CHECK(r.status == 0);
    CHECK(r.err.empty());
    std::smatch m;
    std::regex line{R"(^taskpipe (\d+\.\d+\.\d+) \((?:commit ([0-9a-f]{12})(-dirty)?, )?CAF 0\.17\.6\)\n$)"};
    INFO(r.out);
    REQUIRE(std::regex_match(r.out, m, line));
    CHECK(m[1] == TASKPIPE_EXPECTED_VERSION);
    auto commit = source_commit();
    if (!commit.empty())
      CHECK(m[2] == commit);  // built from this checkout (the test may run on a later edit)
  }
}

TEST_CASE("version: the usage text mentions --version", "[operator][version]") {
  auto r = taskpipe_exec({"--help"});
  CHECK(r.status == 0);
  CHECK(r.out.find("--version") != std::string::npos);
}
