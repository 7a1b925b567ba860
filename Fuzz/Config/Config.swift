//===----------------------------------------------------------------------===//
// Augmenter fuzzing — the configuration loader (YAML and JSON text, environment overrides).
//===----------------------------------------------------------------------===//

import FuzzSupport

@testable import AugmenterCore

// Input: the configuration text; after a NUL byte, optional `NAME=value` lines read as the
// environment (AUGMENTER_... overrides).
//
// Invariants:
// - `ConfigLoader.parse` never crashes, on any text and environment;
// - a refusal lists at least one problem, each with a message; a problem without a key path is
//   about the whole document (unreadable YAML/JSON, not a mapping, a key that is not a plain
//   string at the top, the seed filter's keys mixed with Augmenter's);
// - an accepted configuration is one the validator accepts as built (`ConfigLoader.validate` is
//   empty), reads the same a second time, and holds only valid headers: lower-case token names,
//   values without CR, LF, NUL or controls, trimmed;
// - every template an accepted configuration holds (header rules, profiles, rule outcomes,
//   redirect locations) renders a valid header value for a hostile request (CR, LF, NUL,
//   controls, values over the rendered-length bound in every attribute, header and provider value).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = FuzzInput(data, size)
  let all = input.bytes
  let parts = all.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
  let text = String(decoding: parts[0], as: UTF8.self)
  var environment: [String: String] = [:]
  if parts.count > 1 {
    for line in parts[1].split(separator: UInt8(ascii: "\n")) {
      let pair = line.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
      let name = String(decoding: pair[0], as: UTF8.self)
      environment[name.hasPrefix("AUGMENTER_") ? name : "AUGMENTER_" + name] =
        pair.count > 1 ? String(decoding: pair[1], as: UTF8.self) : ""
    }
  }

  let config: AugmenterConfig
  do throws(ConfigError) {
    config = try ConfigLoader.parse(text, environment: environment)
  } catch {
    fuzzCheck(!error.problems.isEmpty, "a refusal without a problem", input: all)
    for problem in error.problems {
      fuzzCheck(!problem.message.isEmpty, "a problem without a message at \(problem.keyPath)", input: all)
      if problem.keyPath.isEmpty {
        fuzzCheck(
          problem.message.hasPrefix("not valid YAML or JSON") || problem.message == "keys must be plain strings"
            || problem.message.hasPrefix("expected a mapping of settings at the top level")
            || problem.message.hasPrefix("mixes the seed filter's keys with Augmenter keys"),
          "a problem without a key path that is not about the whole document: \(problem.message.debugDescription)",
          input: all
        )
      }
    }
    return 0
  }

  let again = ConfigLoader.validate(config)
  fuzzCheck(again.isEmpty, "accepted, but the validator refuses the result: \(again)", input: all)
  do throws(ConfigError) {
    let second = try ConfigLoader.parse(text, environment: environment)
    fuzzCheck(second == config, "the same text reads differently a second time", input: all)
  } catch {
    fuzzFailure("the same text is refused a second time: \(error)", input: all)
  }
  for header in config.headers {
    checkHeader(name: header.name, value: header.value, input: all)
  }

  var templates: [Template] = []
  func collect(_ rules: [HeaderRule]) {
    for rule in rules {
      fuzzCheck(HeaderRules.nameProblem(rule.name) == nil, "rule header \(rule.name.debugDescription) has a bad name", input: all)
      fuzzCheck(rule.name == rule.name.lowercased(), "rule header name not lower-case", input: all)
      switch rule.value {
      case .template(let template): templates.append(template)
      case .literal(let value): checkHeader(name: rule.name, value: value, input: all)
      case .none: break
      }
    }
  }
  func collect(_ outcome: RuleOutcome?) {
    switch outcome {
    case .allow(let allow)?: collect(allow.headers)
    case .deny(let deny)?: collect(deny.headers)
    case .redirect(let redirect)?: templates.append(redirect.location)
    case .rateLimit?, nil: break
    }
  }
  collect(config.headerRules)
  for profile in config.profiles { collect(profile.headers) }
  for rule in config.rules { collect(rule.outcome) }
  collect(config.defaultOutcome)

  let hostile = "\r\n\0\u{1}\u{7F} x-injected: 1\r\n\t " + String(repeating: "v", count: Template.maxRenderedBytes) + "\n"
  var fields: [HeaderField] = []
  var context: [String: String] = [:]
  for template in templates {
    for variable in template.variables {
      switch variable {
      case .header(let name): fields.append(HeaderField(name: name, value: hostile))
      case .context(let key): context[key] = hostile
      default: break
      }
    }
  }
  let request = CheckRequestAttributes(
    method: hostile, path: hostile, authority: hostile, scheme: hostile, requestID: hostile,
    headers: RequestHeaders(fields: fields), sourceAddress: hostile, destinationAddress: hostile,
    contextExtensions: context, peerIdentity: hostile
  )
  for template in templates {
    let rendered = template.render(request, clientAddress: hostile, provider: { _, _ in hostile })
    let bytes = Array(rendered.utf8)
    fuzzCheck(
      HeaderRules.valueProblem(bytes, maxBytes: Template.maxRenderedBytes) == nil,
      "template \(template.source.debugDescription) renders an invalid header value", input: all)
    fuzzCheck(!bytes.contains(13) && !bytes.contains(10) && !bytes.contains(0), "rendered CR, LF or NUL", input: all)
  }
  return 0
}

private func checkHeader(name: String, value: String, input: [UInt8]) {
  fuzzCheck(HeaderRules.nameProblem(name) == nil, "accepted header name \(name.debugDescription) breaks a rule", input: input)
  fuzzCheck(name == name.lowercased(), "accepted header name not lower-case", input: input)
  fuzzCheck(
    HeaderRules.valueProblem(value.utf8, maxBytes: .max) == nil,
    "accepted value of \(name) breaks a rule", input: input)
  fuzzCheck(HeaderRules.trimmed(value) == value, "accepted value of \(name) not trimmed", input: input)
}

@main enum FuzzConfigMain {
  static func main() { runFuzzer(fuzzConfig) }
}
