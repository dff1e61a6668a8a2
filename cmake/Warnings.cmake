# taskpipe_set_warnings(target): strict warnings on our own code only (CAF, Boost and Catch2
# headers live in /usr/include, a system directory, so they stay quiet).
function(taskpipe_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 reports std::string's own operator+ under -O2 (GCC bug 105651, a false positive).
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(TASKPIPE_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
