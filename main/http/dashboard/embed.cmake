# Inlines dashboard.css and dashboard.js into index.html and writes TASKPIPE_DASHBOARD_OUTPUT (C++,
# from dashboard_assets.cpp.in) with the page and the SHA-256 of its style and script, which the
# page's Content-Security-Policy names. Used by main/http/CMakeLists.txt (include) and by
# scripts/fuzz.sh (cmake -DTASKPIPE_DASHBOARD_OUTPUT=... -P embed.cmake).
set(dashboard_dir ${CMAKE_CURRENT_LIST_DIR})
file(READ ${dashboard_dir}/index.html dashboard_html)
file(READ ${dashboard_dir}/dashboard.css dashboard_css)
file(READ ${dashboard_dir}/dashboard.js dashboard_js)
string(SHA256 TASKPIPE_DASHBOARD_CSS_SHA256 "${dashboard_css}")
string(SHA256 TASKPIPE_DASHBOARD_JS_SHA256 "${dashboard_js}")
string(REPLACE "TASKPIPE_DASHBOARD_CSS" "${dashboard_css}" dashboard_html "${dashboard_html}")
string(REPLACE "TASKPIPE_DASHBOARD_JS" "${dashboard_js}" TASKPIPE_DASHBOARD_HTML "${dashboard_html}")
configure_file(${dashboard_dir}/dashboard_assets.cpp.in ${TASKPIPE_DASHBOARD_OUTPUT} @ONLY)
