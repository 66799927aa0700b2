"""Sub-commands of ``kg``; ``common`` holds the options and set-up they share."""
