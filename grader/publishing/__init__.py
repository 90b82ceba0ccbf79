"""What an instructor publishes: the write-ups (handout), the students'
starter packs (starter_pack) and the platforms' autograder bundles
(export), with PrairieLearn's grader that runs inside its image
(prairielearn)."""
