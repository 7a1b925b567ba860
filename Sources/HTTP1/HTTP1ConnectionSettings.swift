//===----------------------------------------------------------------------===//
// Augmenter — the per-connection HTTP/1.1 limits (the configuration's `http1:` section).
//===----------------------------------------------------------------------===//

package import NIOCore

/// How long an HTTP/1.1 client may take to send a request, and how many it may have outstanding.
package struct HTTP1ConnectionSettings: Sendable {
  /// From the first byte of a request head to its end (`http1.request_head_timeout`, default 10s).
  package var headTimeout: TimeAmount
  /// From the end of the head to the end of the body (`http1.request_body_timeout`, default 30s).
  package var bodyTimeout: TimeAmount
  /// Requests received whose answer has not left the process, past which reading stops
  /// (`http1.max_pipelined_requests`, default 16).
  package var maxPipelinedRequests: Int

  /// Creates the settings.
  package init(headTimeout: TimeAmount, bodyTimeout: TimeAmount, maxPipelinedRequests: Int) {
    self.headTimeout = headTimeout
    self.bodyTimeout = bodyTimeout
    self.maxPipelinedRequests = maxPipelinedRequests
  }
}
