// RFC 7807 problem documents for every local answer Augmenter generates (deny, 429, 503).

/// Builds `application/problem+json` answers with the configured `type` and `title` per status.
public struct ProblemDocument: Sendable {
  private let types: [Int: ProblemType]

  /// The media type of the answers.
  public static let contentType = "application/problem+json"

  /// Creates a builder over the configured `problem_types`.
  public init(types: [Int: ProblemType]) {
    self.types = types
  }

  /// The `type` and `title` for `status`: the configured ones, else `about:blank` and the
  /// status's reason phrase (RFC 7807 §4.2).
  public func type(for status: Int) -> ProblemType {
    types[status] ?? ProblemType(type: "about:blank", title: Self.reasonPhrase(status))
  }

  /// A local answer: `status`, `content-type: application/problem+json` first, then `headers`,
  /// and the document `{type, title, status, detail, instance}` (instance = the request id,
  /// left out when there is none).
  public func answer(status: Int, detail: String, requestID: String?, headers: [HeaderField] = []) -> LocalAnswer {
    let problem = type(for: status)
    var body = #"{"type":"# + JSONText.quoted(problem.type)
    body += #","title":"# + JSONText.quoted(problem.title)
    body += #","status":"# + String(status)
    body += #","detail":"# + JSONText.quoted(detail)
    if let requestID {
      body += #","instance":"# + JSONText.quoted(requestID)
    }
    body += "}"
    var all = [HeaderField(name: "content-type", value: Self.contentType)]
    all.append(contentsOf: headers)
    return LocalAnswer(status: status, headers: all, body: body)
  }

  /// The reason phrase of `status` (RFC 9110), or "Error".
  public static func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 400: "Bad Request"
    case 401: "Unauthorized"
    case 402: "Payment Required"
    case 403: "Forbidden"
    case 404: "Not Found"
    case 405: "Method Not Allowed"
    case 406: "Not Acceptable"
    case 407: "Proxy Authentication Required"
    case 408: "Request Timeout"
    case 409: "Conflict"
    case 410: "Gone"
    case 411: "Length Required"
    case 412: "Precondition Failed"
    case 413: "Content Too Large"
    case 414: "URI Too Long"
    case 415: "Unsupported Media Type"
    case 416: "Range Not Satisfiable"
    case 417: "Expectation Failed"
    case 421: "Misdirected Request"
    case 422: "Unprocessable Content"
    case 423: "Locked"
    case 424: "Failed Dependency"
    case 426: "Upgrade Required"
    case 428: "Precondition Required"
    case 429: "Too Many Requests"
    case 431: "Request Header Fields Too Large"
    case 500: "Internal Server Error"
    case 501: "Not Implemented"
    case 502: "Bad Gateway"
    case 503: "Service Unavailable"
    case 504: "Gateway Timeout"
    default: status < 500 ? "Client Error" : "Server Error"
    }
  }

  /// The 4xx statuses a deny may use: those Envoy's `envoy.type.v3.StatusCode` defines (gRPC
  /// mode can send no other; PROTOCOLS.md §1).
  public static let denyStatuses: Set<Int> = [
    400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 423,
    424, 426, 428, 429, 431,
  ]

  /// The statuses a redirect may use.
  public static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]
}
