// Shim over libnghttp2 1.52 (Debian bookworm libnghttp2-dev).
// Only the HTTP2 target imports this module; nothing here is re-exported.
#ifndef C_NGHTTP2_SHIM_H
#define C_NGHTTP2_SHIM_H

#include <nghttp2/nghttp2.h>

#endif
