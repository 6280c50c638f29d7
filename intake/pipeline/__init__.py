"""The pipeline: the task, the stage functions and the record of a submission, whatever its source."""
