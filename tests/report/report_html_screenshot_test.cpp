// The HTML report loaded in a real browser: headless Chromium (Debian's `chromium` package)
// renders the page for hand-built figures and takes a screenshot, which must be a PNG of the
// window's size holding more than a blank page's would. Skipped, saying so, where Chromium is
// not installed.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "report/report_writers.h"
#include "report_fixture.h"

namespace personagen {
namespace {

namespace fs = std::filesystem;

constexpr int kWidth = 1280, kHeight = 2400;
constexpr auto kTimeout = std::chrono::seconds(120);  // one screenshot, on a loaded machine

// The first of `names` found as an executable on PATH.
std::optional<fs::path> find_on_path(const std::vector<std::string>& names) {
  const char* path = std::getenv("PATH");
  for (const std::string& name : names) {
    std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
      const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return std::nullopt;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct ChildExit {
  bool timed_out = false;
  int exit_code = -1;
};

// Runs `argv` in a process group of its own, its output to `log`, and waits for it to exit,
// at most `timeout` (on a pidfd, so without polling); on timeout the whole group is killed.
// Chromium starts helper processes: they are in the group, and are killed once it is done.
ChildExit run_with_deadline(const std::vector<std::string>& argv, const fs::path& log,
                            std::chrono::milliseconds timeout) {
  std::vector<std::string> args = argv;
  std::vector<char*> c_args;
  for (std::string& a : args) c_args.push_back(a.data());
  c_args.push_back(nullptr);
  const std::string log_path = log.string();

  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(126);
    execv(c_args[0], c_args.data());
    _exit(127);
  }
  ChildExit result;
  if (pid < 0) return result;
  setpgid(pid, pid);  // also here, so that the group exists before any kill below
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd exited{pidfd, POLLIN, 0};
    int ready;
    while ((ready = poll(&exited, 1, static_cast<int>(timeout.count()))) < 0 && errno == EINTR) {
    }
    result.timed_out = ready == 0;
    ::close(pidfd);
  }
  if (result.timed_out) kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  kill(-pid, SIGKILL);  // helpers left behind by the browser
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

uint32_t big_endian(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

// A decoded screenshot: 8-bit RGB or RGBA rows, top to bottom.
struct Pixels {
  uint32_t width = 0, height = 0, channels = 0;
  std::vector<unsigned char> data;
  const unsigned char* at(uint32_t x, uint32_t y) const {
    return &data[(static_cast<size_t>(y) * width + x) * channels];
  }
};

// Decodes what Chromium's screenshots are: a non-interlaced PNG, 8 bits per channel, RGB or
// RGBA. Returns "" or what is wrong.
std::string decode_png(const std::string& png, Pixels& out) {
  if (png.size() < 33 || png.compare(12, 4, "IHDR") != 0) return "not a PNG";
  out.width = big_endian(png, 16);
  out.height = big_endian(png, 20);
  const auto depth = static_cast<unsigned char>(png[24]),
             type = static_cast<unsigned char>(png[25]);
  if (depth != 8 || (type != 2 && type != 6) || png[28] != 0)
    return "PNG of bit depth " + std::to_string(depth) + ", colour type " + std::to_string(type);
  out.channels = type == 6 ? 4 : 3;
  std::string compressed;
  for (size_t at = 8; at + 8 <= png.size();) {
    const uint32_t length = big_endian(png, at);
    if (at + 12 + length > png.size()) return "a PNG chunk runs past the end";
    if (png.compare(at + 4, 4, "IDAT") == 0) compressed.append(png, at + 8, length);
    at += 12 + length;
  }
  const size_t stride = static_cast<size_t>(out.width) * out.channels;
  std::vector<unsigned char> raw(out.height * (stride + 1));
  uLongf size = raw.size();
  if (uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(compressed.data()),
                 compressed.size()) != Z_OK ||
      size != raw.size())
    return "the PNG's image data does not inflate to its size";
  // Undo each row's filter (PNG spec, section 9): 0 none, 1 sub, 2 up, 3 average, 4 Paeth.
  out.data.assign(out.height * stride, 0);
  for (size_t y = 0; y < out.height; ++y) {
    const unsigned char filter = raw[y * (stride + 1)];
    const unsigned char* in = &raw[y * (stride + 1) + 1];
    unsigned char* row = &out.data[y * stride];
    const unsigned char* up = y > 0 ? row - stride : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= out.channels ? row[i - out.channels] : 0;
      const int b = up ? up[i] : 0;
      const int c = up && i >= out.channels ? up[i - out.channels] : 0;
      int predicted = 0;
      switch (filter) {
        case 0:
          break;
        case 1:
          predicted = a;
          break;
        case 2:
          predicted = b;
          break;
        case 3:
          predicted = (a + b) / 2;
          break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          return "PNG row " + std::to_string(y) + " has filter " + std::to_string(filter);
      }
      row[i] = static_cast<unsigned char>(in[i] + predicted);
    }
  }
  return "";
}

class ReportScreenshot : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/personagen-screenshot-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `html` to NAME.html, screenshots it into NAME.png and returns the PNG's bytes.
  std::string screenshot(const fs::path& browser, const std::string& name,
                         const std::string& html) {
    const fs::path page = dir_ / (name + ".html"), png = dir_ / (name + ".png");
    std::ofstream(page) << html;
    const ChildExit run = run_with_deadline(
        {browser.string(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--user-data-dir=" + (dir_ / "profile").string(),
         "--screenshot=" + png.string(),
         "--window-size=" + std::to_string(kWidth) + "," + std::to_string(kHeight),
         "file://" + page.string()},
        dir_ / (name + ".log"), kTimeout);
    EXPECT_FALSE(run.timed_out) << "chromium took longer than " << kTimeout.count() << " s";
    EXPECT_EQ(run.exit_code, 0) << read_file(dir_ / (name + ".log"));
    EXPECT_TRUE(fs::exists(png)) << "no screenshot: " << read_file(dir_ / (name + ".log"));
    return fs::exists(png) ? read_file(png) : "";
  }

  fs::path dir_;
};

TEST_F(ReportScreenshot, ChromiumRendersThePage) {
  const std::optional<fs::path> browser = find_on_path({"chromium", "chromium-browser"});
  if (!browser) {
    GTEST_SKIP() << "headless Chromium is not installed (Debian package `chromium`: "
                    "apt-get install --no-install-recommends chromium); the page was not rendered";
  }
  // Given two datasets' figures, when the page is loaded in Chromium, then the screenshot is a
  // PNG of the window's size with more in it than a blank page of that size.
  const std::vector<Figures> datasets{report_test::full_figures("nightly/2026-12-04"),
                                      report_test::full_figures("nightly/2026-12-05", 9000, 1.2)};
  const std::string page = screenshot(*browser, "report", report_html(datasets));
  const std::string blank = screenshot(*browser, "blank", "<!doctype html><title>-</title>\n");
  ASSERT_GE(page.size(), 24u);
  EXPECT_EQ(page.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(page.substr(12, 4), "IHDR");
  EXPECT_EQ(big_endian(page, 16), static_cast<uint32_t>(kWidth));
  EXPECT_EQ(big_endian(page, 20), static_cast<uint32_t>(kHeight));
  EXPECT_GT(page.size(), 4 * blank.size())
      << "the page's screenshot (" << page.size() << " bytes) is hardly bigger than a blank one's ("
      << blank.size() << " bytes): did it render?";
}

TEST_F(ReportScreenshot, ManyComparedDatasetsStayWithinThePage) {
  const std::optional<fs::path> browser = find_on_path({"chromium", "chromium-browser"});
  if (!browser) {
    GTEST_SKIP() << "headless Chromium is not installed (Debian package `chromium`); the page "
                    "was not rendered";
  }
  // Given seven datasets, whose tables are wider than the page leaves beside them for a chart
  // When the page is rendered
  Pixels pixels;
  const std::string html = report_html(report_test::compared_figures(7));
  ASSERT_EQ(decode_png(screenshot(*browser, "seven", html), pixels), "");
  ASSERT_EQ(pixels.width, static_cast<uint32_t>(kWidth));
  // Then nothing lies right of the sections: the page's content is at most 1,160 px wide and
  // centred, so at 1,280 px its right margin (the sections end at x = 1,196) is page background
  // from top to bottom. A chart squeezed beside a wide table used to stick out into it.
  constexpr uint32_t kMarginStart = (kWidth + 1160) / 2 - 20;
  const unsigned char* background = pixels.at(kWidth - 1, 0);
  for (uint32_t y = 0; y < pixels.height; ++y) {
    for (uint32_t x = kMarginStart; x < pixels.width; ++x) {
      ASSERT_TRUE(std::equal(background, background + 3, pixels.at(x, y)))
          << "content at (" << x << ", " << y << "), right of the sections";
    }
  }
}

}  // namespace
}  // namespace personagen
