//===----------------------------------------------------------------------===//
// Augmenter — one HTTP exchange with a provider endpoint or a token endpoint.
//===----------------------------------------------------------------------===//

import AsyncHTTPClient
import AugmenterCore
import NIOCore

/// What every provider kind that speaks HTTP does the same way: the provider's TLS settings,
/// the request under its `timeout`, and the answer read up to `max_answer_bytes`, every failure
/// a `ProviderFetchError` that names no header value (timeouts counted as `timeout`).
enum ProviderHTTPExchange {
  /// Sends `request` with `provider`'s TLS settings and timeout; returns the response and its
  /// whole body. `subject` names what is asked for in errors ("" or "token ").
  static func send(
    _ request: HTTPClientRequest, through client: HTTPClient, for provider: ProviderConfig, subject: String = ""
  ) async throws -> (response: HTTPClientResponse, body: ByteBuffer) {
    var request = request
    if let tls = provider.tls {
      do {
        request.tlsConfiguration = try ProviderTLS.clientConfiguration(tls)
      } catch {
        throw ProviderFetchError(description: "tls: \(error)")
      }
    }
    let response: HTTPClientResponse
    do {
      response = try await client.execute(request, timeout: TimeAmount(provider.timeout))
    } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
      throw ProviderFetchError(description: "timed out after \(provider.timeout)", fetchResult: .timeout)
    } catch {
      throw ProviderFetchError(description: "\(subject)request failed: \(error)")
    }
    do {
      return (response, try await response.body.collect(upTo: provider.maxAnswerBytes))
    } catch is NIOTooManyBytesError {
      throw ProviderFetchError(description: "\(subject)answer larger than max_answer_bytes (\(provider.maxAnswerBytes))")
    } catch {
      throw ProviderFetchError(description: "reading the \(subject)answer failed: \(error)")
    }
  }
}
