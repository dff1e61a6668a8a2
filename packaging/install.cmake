# Install-time part of `cmake --install` (and of CPack): the config file and the systemd unit,
# whose paths depend on the prefix given at install time, not the one configured. With prefix
# /usr the config goes to /etc (GNU and Debian convention), otherwise to PREFIX/etc.
# Set by the caller: TASKPIPE_CONF (the example config), TASKPIPE_UNIT_IN (the unit template),
# TASKPIPE_UNIT_OUT (where to write the filled-in unit), TASKPIPE_BINDIR and TASKPIPE_DOCDIR
# (relative to the prefix).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(sysconfdir "/etc")
else()
  set(sysconfdir "${CMAKE_INSTALL_PREFIX}/etc")
endif()
file(INSTALL DESTINATION "${sysconfdir}/taskpipe" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES "${TASKPIPE_CONF}")

set(BINDIR "${CMAKE_INSTALL_PREFIX}/${TASKPIPE_BINDIR}")
set(DOCDIR "${CMAKE_INSTALL_PREFIX}/${TASKPIPE_DOCDIR}")
set(SYSCONFDIR "${sysconfdir}")
configure_file("${TASKPIPE_UNIT_IN}" "${TASKPIPE_UNIT_OUT}" @ONLY)
file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES "${TASKPIPE_UNIT_OUT}")
