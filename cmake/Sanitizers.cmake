# -DTASKPIPE_SANITIZE=address,undefined (or thread) instruments every target of the build.
if(TASKPIPE_SANITIZE)
  add_compile_options(-fsanitize=${TASKPIPE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${TASKPIPE_SANITIZE})
endif()
