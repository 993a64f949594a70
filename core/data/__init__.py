"""Reading a table (files, Hub datasets), guessing its columns, cleaning, splitting, the data report and the caches behind the Data step."""
