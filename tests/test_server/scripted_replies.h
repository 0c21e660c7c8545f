#pragma once

// Which reply a chat request gets: the echo of replies.h, or one that the request scripts with a
// marker or by being a conversation. Free of JSON: replies.cpp parses and writes it.
//
// The markers and the texts they give are listed in replies.h.

#include <cstddef>

#include "replies.h"

namespace personagen::testing::detail {

// The reply to `request`, the `index`-th chat request to arrive, as replies.h lists.
ChatReply scripted_reply(const ChatRequest& request, size_t index);

}  // namespace personagen::testing::detail
