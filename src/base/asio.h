// Boost.Asio and Beast as dualkey uses them: C++20 coroutines, and Beast on
// std::string_view. The one Asio of the code base (the gateway, the daemon's
// listeners, the MCP and PostgreSQL proxies): include this instead of the
// Boost headers directly, so every file agrees on the configuration.
#pragma once

// Beast speaks std::string_view, like the rest of dualkey.
#ifndef BOOST_BEAST_USE_STD_STRING_VIEW  // CMake defines these for every file
#define BOOST_BEAST_USE_STD_STRING_VIEW
#endif

// Boost 1.74 looks for coroutines in <experimental/coroutine> under clang
// (libc++ only); clang with libstdc++ has the standard <coroutine>.
#if defined(__clang__) && defined(__cpp_impl_coroutine) && __has_include(<coroutine>) && \
    !defined(BOOST_ASIO_HAS_CO_AWAIT)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#define BOOST_ASIO_HAS_STD_COROUTINE 1
#endif

// clang-format off
#include <utility>  // before Asio: its awaitable.hpp uses std::exchange without it
// clang-format on
#include <boost/asio.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
