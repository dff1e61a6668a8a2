#include "actors/store/task_store.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace taskpipe {

std::int64_t unix_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string utc_text(std::int64_t unix_ms) {
  auto secs = unix_ms / 1000;
  auto milli = static_cast<int>(unix_ms % 1000);
  if (milli < 0) {
    milli += 1000;
    secs -= 1;
  }
  auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
  return buf;
}

} // namespace taskpipe
