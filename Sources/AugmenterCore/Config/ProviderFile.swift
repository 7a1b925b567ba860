// One header of a `file` provider (key `providers[].files`).

/// A header whose value is read from a file.
public struct ProviderFile: Sendable, Hashable {
  /// The header name (the key under `files`).
  public var name: String
  /// The file holding the value; surrounding whitespace and the final newline are trimmed.
  public var path: String
  /// The value written with `{}` replaced by the file's content (default `{}`), e.g. `Bearer {}`.
  public var format: String

  /// The default `format`: the file's content as it is.
  public static let defaultFormat = "{}"

  /// Creates a file header.
  public init(name: String, path: String, format: String = ProviderFile.defaultFormat) {
    self.name = name
    self.path = path
    self.format = format
  }

  /// `format` with its first `{}` replaced by `content`.
  public func value(of content: String) -> String {
    guard let range = format.firstRange(of: "{}") else { return format }
    var value = format
    value.replaceSubrange(range, with: content)
    return value
  }
}

extension ProviderFile: ConfigDefaults {
  static var configDefaults: ProviderFile { ProviderFile(name: "", path: "") }
}

extension ProviderFile {
  /// The keys of one `files` entry.
  static let fields = ConfigFields<ProviderFile>([
    .text("path", \.path, type: "path", example: "/var/run/secrets/tokens/token", "The file holding the value. Required."),
    .text(
      "format", \.format, example: "Bearer {}", "The header value, with `{}` replaced by the file's trimmed content."),
  ])
}
