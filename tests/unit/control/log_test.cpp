// The journal half of include/inception/log.h: entries in systemd's native
// protocol, bytes as journald parses them, sent to a socket the test binds.
#include "inception/log.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace inception {
namespace {

TEST(Log, JournalEntryCarriesTheFields) {
  EXPECT_EQ(log::journal_entry(log::Level::kInfo, "port ivm1: added to network private", {"port ivm1", "added"},
                               "inceptiond"),
            "MESSAGE=port ivm1: added to network private\nPRIORITY=6\nSYSLOG_IDENTIFIER=inceptiond\n"
            "INCEPTION_OBJECT=port ivm1\nINCEPTION_EVENT=added\n");
  // No object, no event: no empty fields.
  EXPECT_EQ(log::journal_entry(log::Level::kError, "no", {}, "x"), "MESSAGE=no\nPRIORITY=3\nSYSLOG_IDENTIFIER=x\n");
  EXPECT_EQ(log::journal_entry(log::Level::kWarning, "w", {}, "x"), "MESSAGE=w\nPRIORITY=4\nSYSLOG_IDENTIFIER=x\n");
}

TEST(Log, JournalEntryFramesAValueWithANewline) {
  const std::string entry = log::journal_entry(log::Level::kDebug, "two\nlines", {}, "x");
  // KEY, newline, the length as 64-bit little endian, the bytes, newline.
  EXPECT_EQ(entry, std::string("MESSAGE\n\x09\0\0\0\0\0\0\0two\nlines\n", 8 + 8 + 9 + 1) +
                       "PRIORITY=7\nSYSLOG_IDENTIFIER=x\n");
}

class JournalSocket : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/inception-log-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/socket";
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path_.copy(address.sun_path, sizeof(address.sun_path) - 1);
    ASSERT_EQ(bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  }
  void TearDown() override {
    log::use_stderr();
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::string receive() {
    char buffer[4096];
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
    return n < 0 ? std::string() : std::string(buffer, static_cast<size_t>(n));
  }
  std::string dir_;
  std::string path_;
  int fd_ = -1;
};

TEST_F(JournalSocket, MessagesGoToTheSocketWithTheirFields) {
  ASSERT_TRUE(log::use_journal(path_, "inceptiond"));
  log::info({"port ivm1", "added"}, "port {}: added", "ivm1");
  EXPECT_EQ(receive(),
            "MESSAGE=port ivm1: added\nPRIORITY=6\nSYSLOG_IDENTIFIER=inceptiond\nINCEPTION_OBJECT=port ivm1\n"
            "INCEPTION_EVENT=added\n");
  log::warning("plain {}", 1);
  EXPECT_EQ(receive(), "MESSAGE=plain 1\nPRIORITY=4\nSYSLOG_IDENTIFIER=inceptiond\n");
  // Below the level: nothing sent.
  log::debug({"port ivm1", "noise"}, "not at info");
  EXPECT_EQ(receive(), "");
}

TEST_F(JournalSocket, NoSocketNoJournal) {
  EXPECT_FALSE(log::use_journal(dir_ + "/absent"));
  EXPECT_FALSE(log::use_journal(dir_));  // a directory, not a socket
}

TEST(Log, StderrThatIsNotTheJournalStaysStderr) {
  // JOURNAL_STREAM naming another file than our stderr: a redirected
  // stderr (a test's log file) keeps its lines.
  ASSERT_EQ(setenv("JOURNAL_STREAM", "0:1", 1), 0);
  EXPECT_FALSE(log::use_journal_if_stderr_is_journal());
  ASSERT_EQ(unsetenv("JOURNAL_STREAM"), 0);
  EXPECT_FALSE(log::use_journal_if_stderr_is_journal());
}

}  // namespace
}  // namespace inception
