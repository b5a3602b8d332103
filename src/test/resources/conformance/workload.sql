-- The changes both capture, one transaction per statement, in this order. The writer's session
-- settings are not the defaults, to show the values do not depend on them.
SET TimeZone = 'America/New_York';
SET lc_monetary = 'C';
INSERT INTO public.conformance VALUES (1, 32767, -2147483648, 9223372036854775807, 1234.56, 3.14159265358979323846, 1234.56,
  1.5, 0.1, 'Zoë "quoted" \ back', 'varchar', 'ab', true, '2024-02-29', '13:14:15.123456', '13:14:15.123', '13:14:15.123456+02',
  '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123', '2024-02-29 13:14:15.123456+01', '1 year 2 mons 3 days 04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1, "a": [true, null]}', '{"b": 1, "a": [true, null]}', '\x00ff10',
  '{1,2,3}', '{"x","y z"}', '192.168.0.1', '10.0.0.0/8', '08:00:2b:01:02:03', '(1.5,-2)', 'curious', '[1,10)', 7,
  '<a>b</a>', 'fat cat');
INSERT INTO public.conformance VALUES (2, -32768, 0, -1, -0.01, -12345678901234567890.123456789, -0.5,
  'NaN', 'Infinity', '', 'v', 'abcde', false, '1970-01-01', '00:00:00', '23:59:59.999', '00:00:00-05:30',
  '1970-01-01 00:00:00', '1969-12-31 23:59:59.999', 'infinity', '-1 days -00:00:01',
  '00000000-0000-0000-0000-000000000000', '[]', '{}', '\x',
  '{}', '{}', '::1', '::/0', 'ff:ff:ff:ff:ff:ff', '(0,0)', 'calm', 'empty', 1,
  '<x/>', '');
INSERT INTO public.conformance (id) VALUES (3);
UPDATE public.conformance SET c_text = 'renamed', c_real = '-Infinity', c_double = 'NaN', c_numeric_fixed = 99999999.99,
  c_timestamptz = '-infinity', c_date = '0001-01-01' WHERE id = 1;
DELETE FROM public.conformance WHERE id = 2;
