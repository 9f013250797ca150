"""What is scored: samples, the manifest and benchmark layouts they are read from, their images, and the checks of
every input row before any model loads."""
