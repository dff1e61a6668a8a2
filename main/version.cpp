#include "main/version.hpp"

#include "git_commit.hpp"  // generated into the build tree by cmake/GitCommit.cmake

#include <caf/config.hpp>

#include <fmt/format.h>

namespace taskpipe {

std::string_view version() {
  return TASKPIPE_VERSION;
}

std::string_view git_commit() {
  return TASKPIPE_GIT_COMMIT;
}

std::string version_line() {
  auto caf = fmt::format("CAF {}.{}.{}", CAF_MAJOR_VERSION, CAF_MINOR_VERSION, CAF_PATCH_VERSION);
  if (git_commit().empty())
    return fmt::format("taskpipe {} ({})", version(), caf);
  return fmt::format("taskpipe {} (commit {}, {})", version(), git_commit(), caf);
}

} // namespace taskpipe
