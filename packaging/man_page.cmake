# Script mode (cmake -P): writes the man page OUTPUT with help2man from the binary TASKPIPE:
# `taskpipe --help` and `--version` make NAME, SYNOPSIS and the version; every command's own
# --help (COMMANDS, comma-separated) becomes a section of its own, and FILES and SEE ALSO are
# added.
string(REPLACE "," ";" COMMANDS "${COMMANDS}")
set(include "${OUTPUT}.h2m")
set(text "[DESCRIPTION]\ntaskpipe updates many tasks at once: every task of a batch goes through four stages, Validate, Audit, Update and Notify, each a pool of actors of the C++ Actor Framework, and no task waits for another.\n\n")
foreach(command IN LISTS COMMANDS)
  execute_process(COMMAND "${TASKPIPE}" ${command} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "taskpipe ${command} --help exited ${rc}")
  endif()
  # roff: backslashes first, then hyphens (so options copy as typed), then lines that start with a
  # control character.
  string(REPLACE "\\" "\\e" help "${help}")
  string(REPLACE "-" "\\-" help "${help}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
  string(TOUPPER "${command}" upper)
  string(APPEND text "[COMMAND ${upper}]\n.nf\n${help}.fi\n\n")
endforeach()
string(APPEND text "[FILES]
.TP
.I /etc/taskpipe/taskpipe.conf
The configuration of the systemd unit (PREFIX/etc/taskpipe/taskpipe.conf outside /usr); every option, commented, with its default.
.TP
.I /lib/systemd/system/taskpipe.service
The systemd unit: \\fBsystemctl enable \\-\\-now taskpipe\\fR.
.TP
.I /var/lib/taskpipe/taskpipe.db
The SQLite task store of the unit.

[SEE ALSO]
The README (/usr/share/doc/taskpipe/README.md) and the OpenAPI description of the HTTP API
(/usr/share/doc/taskpipe/openapi.json, also served at GET /v1/openapi.json).
")
file(WRITE "${include}" "${text}")
execute_process(
  COMMAND "${HELP2MAN}" --no-info --section=1 --source=taskpipe
          "--name=batch-update service on the C++ Actor Framework"
          "--include=${include}" "--output=${OUTPUT}" "${TASKPIPE}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed (${rc})")
endif()
