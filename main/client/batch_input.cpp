#include "main/client/batch_input.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <sstream>

namespace taskpipe::client {

namespace {

/// SAX consumer that only notes whether the top-level value is an object with a "tasks" key:
/// no document is built, so a 256 MiB body costs no memory here.
struct top_level_keys : nlohmann::json_sax<nlohmann::json> {
  int depth = 0;
  bool object = false;
  bool has_tasks = false;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    if (depth++ == 0)
      object = true;
    return true;
  }
  bool key(string_t& k) override {
    if (depth == 1 && k == "tasks")
      has_tasks = true;
    return true;
  }
  bool end_object() override {
    --depth;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth;
    return true;
  }
  bool end_array() override {
    --depth;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }
};

} // namespace

std::string batch_body(const std::string& input) {
  top_level_keys whole;
  if (nlohmann::json::sax_parse(input, &whole) && whole.object && whole.has_tasks)
    return input;
  std::string body = "{\"tasks\":[";
  std::istringstream in{input};
  std::size_t number = 0;
  bool first = true;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    top_level_keys one;
    if (!nlohmann::json::sax_parse(line, &one) || !one.object)
      throw std::invalid_argument(fmt::format(
        "line {}: expected a task object ({{\"id\":17,\"type\":\"Story\"}}), one per line, or the "
        "whole input as one {{\"tasks\":[...]}} object",
        number));
    if (!first)
      body += ',';
    body += line;
    first = false;
  }
  return body + "]}";
}

std::string read_input(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw std::invalid_argument(fmt::format("cannot read {}", path));
  text << in.rdbuf();
  return text.str();
}

} // namespace taskpipe::client
