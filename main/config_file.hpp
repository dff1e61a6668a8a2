// The config file and the other operator options of run/serve/node: --config-file=PATH,
// --dump-config, --check-config, --log-level, --log-format.
//
// The file is in CAF's INI format, read by CAF's own parser: a section per command ([serve],
// [node], [run]) whose keys are that command's option names, and CAF's sections ([middleman],
// [scheduler], ...). A command reads its own section and CAF's, and ignores the other commands'
// sections, so one file can serve several commands. The command line wins over the file, the file
// over the defaults. CAF's implicit `caf-application.ini` in the working directory is never read.
#pragma once

#include "main/options.hpp"

#include <optional>
#include <string>
#include <vector>

namespace caf {
class actor_system_config;
} // namespace caf

namespace taskpipe {

/// Declares --config-file, --dump-config, --check-config, --log-level and --log-format.
void add_operator_options(option_set& opts);

/// Reads `path` into `opts` (see above). Throws option_error naming the file and the line, the
/// section or the key at fault.
void load_config_file(const std::string& path, option_set& opts);

/// Applies the file's CAF sections (checked by load_config_file), then opts.caf_args() from the
/// command line, to `cfg`; CAF's own INI file is never read. Throws option_error naming the
/// offending argument.
void apply_caf_options(caf::actor_system_config& cfg, const option_set& opts);

/// The effective configuration in the config file's format: the command's section with every
/// option, then CAF's sections as CAF reports them. Reading it back gives the same configuration.
std::string dump_config(const option_set& opts, const caf::actor_system_config& cfg);

/// Call once the command line (and file) passed every check of the command and `cfg` is set up:
/// configures the log (--log-level, --log-format; throws option_error for bad values), then
/// answers --dump-config (prints it) and --check-config (prints "... OK"), returning the exit
/// status 0 for both; nullopt means "go on and run".
std::optional<int> finish_configuration(const option_set& opts,
                                        const caf::actor_system_config& cfg);

/// Reports a bad command line or config file on stderr ("taskpipe COMMAND: what", plus where in
/// the file a value came from) and returns the exit status: 1 when `args` (the command's words)
/// hold --check-config, else 2.
int report_option_error(const option_set& opts, const std::vector<std::string>& args,
                        const option_error& e);

} // namespace taskpipe
