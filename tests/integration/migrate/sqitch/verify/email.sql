SELECT 1/count(*) FROM pg_indexes WHERE indexname = 'users_email_key';
