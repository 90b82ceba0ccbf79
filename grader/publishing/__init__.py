"""What an instructor publishes: the write-ups (handout), the students'
starter packs (starter_pack) and the platforms' autograder bundles
(export), with the submission policy a bundle applies on Gradescope
(policy)."""
