// HeaderField's description hides values (so they never reach logs); test failures should
// show them.

public import AugmenterCore
public import Testing

extension HeaderField: CustomTestStringConvertible {
  public var testDescription: String { "\(name): \(value)" }
}
