// TestServer's public face: each accessor reads the state the routes keep, under its lock.
#include "test_server_impl.h"

namespace personagen::testing {

TestServer::TestServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

TestServer::~TestServer() = default;

int TestServer::port() const {
  return impl_->port_;
}

std::string TestServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port_) + "/v1";
}

void TestServer::stop() {
  impl_->stop();
}

std::vector<std::string> TestServer::chat_requests() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->chat_bodies_;
}

size_t TestServer::chat_request_count() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->chat_bodies_.size();
}

bool TestServer::wait_for_chat_requests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex_);
  return impl_->changed_.wait_for(lock, timeout,
                                  [this, n] { return impl_->chat_bodies_.size() >= n; });
}

std::vector<std::string> TestServer::authorization_headers() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->authorizations_;
}

size_t TestServer::max_concurrent() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->max_in_flight_;
}

size_t TestServer::response_format_requests() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->response_format_requests_;
}

std::vector<std::string> TestServer::embedding_requests() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->embedding_bodies_;
}

size_t TestServer::file_uploads() const {
  return impl_->batches_.uploaded_filenames().size();
}

std::vector<std::string> TestServer::uploaded_filenames() const {
  return impl_->batches_.uploaded_filenames();
}

size_t TestServer::batches_created() const {
  return impl_->batches_.batches_created();
}

size_t TestServer::batch_cancels() const {
  return impl_->batches_.batch_cancels();
}

size_t TestServer::batch_polls() const {
  return impl_->batches_.batch_polls();
}

std::vector<std::string> TestServer::batch_line_requests() const {
  return impl_->batches_.line_bodies();
}

bool TestServer::wait_for_batch_status(const std::string& id, const std::string& status,
                                       std::chrono::milliseconds timeout) const {
  return impl_->batches_.wait_for_status(id, status, timeout);
}

bool TestServer::wait_for_batch_lines(size_t n, std::chrono::milliseconds timeout) const {
  return impl_->batches_.wait_for_lines(n, timeout);
}

}  // namespace personagen::testing
