// What `taskpipe --version` says: the project version from CMake, the git commit of the build, and
// the CAF version it was compiled against.
#pragma once

#include <string>
#include <string_view>

namespace taskpipe {

/// The project version from CMake's project(VERSION), e.g. "0.1.0".
std::string_view version();

/// The git commit the binary was built from ("d7389e1a2b3c", with "-dirty" when tracked files had
/// changes), or "" when it was not built from a git checkout.
std::string_view git_commit();

/// One line: "taskpipe 0.1.0 (commit d7389e1a2b3c, CAF 0.17.6)", or without the commit part.
std::string version_line();

} // namespace taskpipe
