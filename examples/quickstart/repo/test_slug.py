import unittest

from slug import slugify


class SlugifyTest(unittest.TestCase):
    def test_words_are_joined_with_hyphens(self) -> None:
        self.assertEqual(slugify("Hello World"), "hello-world")

    def test_punctuation_is_dropped(self) -> None:
        self.assertEqual(slugify("Rust, Kubernetes & agents!"), "rust-kubernetes-agents")

    def test_runs_of_separators_collapse(self) -> None:
        self.assertEqual(slugify("  a -- b  "), "a-b")


if __name__ == "__main__":
    unittest.main()
