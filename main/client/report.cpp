#include "main/client/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace taskpipe::client {

namespace {

std::uint64_t count(const nlohmann::json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_number_unsigned() ? i->get<std::uint64_t>() : 0;
}

double number(const nlohmann::json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_number() ? i->get<double>() : 0.0;
}

std::string text(const nlohmann::json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

std::string short_duration(double seconds) {
  if (seconds < 60)
    return fmt::format("{:.0f}s", std::ceil(seconds));
  if (seconds < 3600)
    return fmt::format("{:.0f}m{:02.0f}s", std::floor(seconds / 60), std::fmod(seconds, 60));
  return fmt::format("{:.0f}h{:02.0f}m", std::floor(seconds / 3600),
                     std::floor(std::fmod(seconds, 3600) / 60));
}

} // namespace

std::string progress_line(const nlohmann::json& status, std::size_t width) {
  auto total = count(status, "total");
  auto failed = count(status, "failed");
  auto pending = count(status, "pending");
  auto done = total - std::min(total, pending);
  auto seconds = number(status, "elapsed_ms") / 1000.0;
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  double fraction = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  auto eta = rate > 0 ? "ETA " + short_duration(static_cast<double>(pending) / rate)
                      : std::string{"ETA -"};
  auto figures = fmt::format(" {:3.0f}%  {}/{}  {:.0f} tasks/s  {}  failed {}", fraction * 100,
                             done, total, rate, eta, failed);
  // A bar of fixed width, so that it does not jump as the figures grow; none on a narrow terminal.
  constexpr std::size_t bar = 30;
  if (width < bar + 2 + figures.size())
    return figures.substr(1, width);
  auto filled = static_cast<std::size_t>(fraction * static_cast<double>(bar));
  return "[" + std::string(filled, '#') + std::string(bar - filled, '-') + "]" + figures;
}

std::string summary(const nlohmann::json& status, std::size_t first_failures) {
  auto total = count(status, "total");
  auto failed = count(status, "failed");
  std::string out = fmt::format(
    "batch {} {}: {} tasks, {} succeeded, {} failed", text(status, "batch_id"),
    text(status, "state"), total, count(status, "succeeded"), failed);
  if (auto pending = count(status, "pending"); pending > 0)
    out += fmt::format(", {} pending", pending);
  out += fmt::format(" ({:.1f} ms)\n", number(status, "elapsed_ms"));
  auto failures = status.find("failures");
  if (failures == status.end() || !failures->is_array() || failures->empty())
    return out;
  std::map<std::string, std::uint64_t> by_code;
  for (const auto& f : *failures)
    by_code[text(f, "code")] += 1;
  out += "failures by code:\n";
  for (const auto& [code, n] : by_code)
    out += fmt::format("  {:<20} {}\n", code, n);
  auto shown = std::min(first_failures, failures->size());
  out += shown < failures->size()
           ? fmt::format("first {} of {} failures:\n", shown, failures->size())
           : std::string{"failures:\n"};
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& f = (*failures)[i];
    auto id = f.contains("id") && f["id"].is_number() ? f["id"].dump() : std::string{"?"};
    out += fmt::format("  {:<8} {:<9} {:<18} {}\n", id, text(f, "stage"), text(f, "code"),
                       text(f, "reason"));
  }
  return out;
}

} // namespace taskpipe::client
