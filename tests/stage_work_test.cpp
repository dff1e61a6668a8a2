#include "actors/stage_work.hpp"

#include <catch2/catch.hpp>

using namespace taskpipe;

namespace {

caf::optional<task_failure> check(caf::optional<std::string> type,
                                  caf::optional<std::string> summary, bool duplicate = false) {
  return check_request(task_envelope{1, 0, duplicate, task_update{17, type, summary}});
}

failure_code code_of(const caf::optional<task_failure>& f) {
  REQUIRE(f);
  return f->code;
}

} // namespace

TEST_CASE("valid requests pass") {
  CHECK(!check(std::string{"Epic"}, caf::none));
  CHECK(!check(caf::none, std::string{"Rename login page"}));
  CHECK(!check(std::string{"TechTask"}, std::string(255, 'x')));
  // 255 code points of 4 bytes each are fine: the limit counts characters, not bytes.
  std::string emoji;
  for (int i = 0; i < 255; ++i)
    emoji += "\xF0\x9F\x9A\x80";
  CHECK(!check(caf::none, emoji));
}

TEST_CASE("validation order: duplicate / empty / type / summary") {
  CHECK(code_of(check(caf::none, caf::none, true)) == failure_code::duplicate_in_batch);
  CHECK(code_of(check(caf::none, caf::none)) == failure_code::empty_update);
  CHECK(code_of(check(std::string{"epic"}, std::string{""})) == failure_code::invalid_type);
  CHECK(code_of(check(std::string{"Epic"}, std::string{""})) == failure_code::invalid_summary);
}

TEST_CASE("invalid types and summaries say what is wrong") {
  auto f = check(std::string{"Bug"}, caf::none);
  CHECK(f->code == failure_code::invalid_type);
  CHECK(f->reason.find("\"Bug\"") != std::string::npos);
  CHECK(f->where == stage::validate);
  CHECK(f->id == 17);

  CHECK(check(caf::none, std::string{""})->reason == "summary is empty");
  CHECK(check(caf::none, std::string(256, 'x'))->reason.find("256 characters")
        != std::string::npos);
  auto tab = check(caf::none, std::string{"a\tb"});
  CHECK(tab->code == failure_code::invalid_summary);
  CHECK(tab->reason.find("U+0009") != std::string::npos);
  CHECK(check(caf::none, std::string{"del\x7F"})->code == failure_code::invalid_summary);
  CHECK(check(caf::none, std::string{"c1 \xC2\x85 control"})->reason.find("U+0085")
        != std::string::npos);
  CHECK(!check(caf::none, std::string{"\xC2\xA0 no-break space is fine"}));
  CHECK(check(caf::none, std::string{"bad \xFF utf8"})->reason.find("UTF-8") != std::string::npos);
  CHECK(check(caf::none, std::string{"\xC0\xAF overlong"})->code == failure_code::invalid_summary);
  CHECK(check(caf::none, std::string{"\xED\xA0\x80 surrogate"})->code
        == failure_code::invalid_summary);
  // A long invalid type is shortened without splitting a character.
  auto long_type = check(std::string(63, 'a') + "\xC3\xA9" + std::string(100, 'b'), caf::none);
  CHECK(long_type->reason.find("\xC3\xA9") == std::string::npos);
  CHECK(long_type->reason.find("...") != std::string::npos);
}
