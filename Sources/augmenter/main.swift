print("augmenter")
